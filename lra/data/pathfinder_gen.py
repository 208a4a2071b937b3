"""A Pathfinder generator (after Linsley et al. 2018), written from the published description.

An image holds two target paths ("snakes") of `contour_length` short paddles each, started near the centre
(at least 2 * `seed_distance` from the border, as the published seeding does) and `seed_distance` apart,
and distractor snakes. Each paddle continues from the previous one after a gap of 2 * `margin`, turning by
an angle drawn with weight cos(min(|turn| * continuity, pi/2))^2 among the turns whose paddle stays inside
the window with its centre line at least 2 * `margin` from every other paddle's (the published code
dilates both the new paddle and the drawn ones by `margin` and rejects overlap). Two round markers: one
on the start of a randomly chosen target snake, the other on its end (label 1, connected) or on the end
of the other target snake (label 0). Both classes thus hold the same clutter; only which ends are marked
differs. The image is drawn at `antialias` times the resolution and downsampled with Lanczos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

DIFFICULTY_LENGTH = {"easy": 6, "intermediate": 9, "hard": 14}
DIFFICULTY_FOLDER = {"easy": "curv_baseline", "intermediate": "curv_contour_length_9",
                     "hard": "curv_contour_length_14"}
TURNS = np.linspace(-math.pi / 2, math.pi / 2, 15)


@dataclass(frozen=True)
class Params:
    resolution: int
    padding: float
    paddle_length: float
    paddle_thickness: float
    margins: tuple[float, ...]
    marker_radius: float
    seed_distance: float
    contour_length: int
    continuity: float
    distractor_total: int  # num_distractors = distractor_total // distractor_length
    contrast: float  # paddle_contrast * snake_contrast; ink is clipped to 1 only after downsampling
    antialias: int

    @property
    def distractor_length(self) -> int:
        return max(self.contour_length // 3, 1)

    @property
    def num_distractors(self) -> int:
        return self.distractor_total // self.distractor_length


# LRA's customised parameters per resolution (lra_benchmarks/data/pathfinder.py docstrings); the contrast
# is their paddle_contrast times snake_contrast (32: 0.75 * 2).
_LRA = {
    32: Params(32, 1, 2, 0.5, (1,), 1.5, 7, 14, 1.0, 20, 1.5, 2),
    64: Params(64, 1, 5, 1.0, (1,), 2.5, 12, 14, 1.8, 22, 0.8, 2),
    128: Params(128, 1, 5, 1.5, (2, 3), 3.0, 20, 14, 1.8, 35, 0.9, 2),
    256: Params(256, 22, 5, 2.0, (3,), 5.0, 27, 14, 1.8, 30, 1.0, 2),
}


def lra_params(resolution: int, difficulty: str) -> Params:
    if resolution not in _LRA:
        raise ValueError(f"resolution must be one of {sorted(_LRA)}")
    if difficulty not in DIFFICULTY_LENGTH:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTY_LENGTH)}")
    return replace(_LRA[resolution], contour_length=DIFFICULTY_LENGTH[difficulty])


class Canvas:
    """Occupancy and ink at antialias x resolution; coordinates are in output pixels."""

    def __init__(self, params: Params) -> None:
        self.p = params
        self.scale = params.antialias
        size = params.resolution * self.scale
        self.ink = np.zeros((size, size), dtype=np.float32)
        self.occupied = np.zeros((size, size), dtype=bool)

    def inside(self, point: np.ndarray) -> bool:
        lo, hi = self.p.padding, self.p.resolution - self.p.padding
        return bool(lo <= point[0] <= hi and lo <= point[1] <= hi)

    def _distance(self, a: np.ndarray, b: np.ndarray, radius: float) -> tuple[slice, slice, np.ndarray]:
        """Distance (output px) from segment a-b of the canvas pixels in its bounding box grown by radius."""
        s, size = self.scale, self.ink.shape[0]
        x0 = max(int((min(a[0], b[0]) - radius) * s), 0)
        y0 = max(int((min(a[1], b[1]) - radius) * s), 0)
        x1 = min(int(math.ceil((max(a[0], b[0]) + radius) * s)), size)
        y1 = min(int(math.ceil((max(a[1], b[1]) + radius) * s)), size)
        px = (np.arange(x0, x1) + 0.5)[None, :] / s
        py = (np.arange(y0, y1) + 0.5)[:, None] / s
        dx, dy = b[0] - a[0], b[1] - a[1]
        t = np.clip(((px - a[0]) * dx + (py - a[1]) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        return slice(y0, y1), slice(x0, x1), np.hypot(px - a[0] - t * dx, py - a[1] - t * dy)

    def free(self, a: np.ndarray, b: np.ndarray, ignore: np.ndarray | None = None) -> bool:
        """Inside the window and clear of occupied pixels along the paddle (sampled every canvas pixel)."""
        if not (self.inside(a) and self.inside(b)):
            return False
        steps = int(math.ceil(float(np.hypot(*(b - a))) * self.scale)) + 1
        t = np.linspace(0.0, 1.0, steps)[:, None]
        pixels = ((a + t * (b - a)) * self.scale).astype(int).clip(0, self.ink.shape[0] - 1)
        hit = self.occupied[pixels[:, 1], pixels[:, 0]]
        if ignore is not None:
            hit &= ~ignore[pixels[:, 1], pixels[:, 0]]
        return not hit.any()

    def free_many(self, a: np.ndarray, ends: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
        """`free` for several paddles from the same point a to each of ends (K, 2), at once."""
        lo, hi = self.p.padding, self.p.resolution - self.p.padding
        inside = ((ends >= lo) & (ends <= hi)).all(axis=1) & self.inside(a)
        steps = int(math.ceil(self.p.paddle_length * self.scale)) + 1
        t = np.linspace(0.0, 1.0, steps)[None, :, None]
        pixels = ((a + t * (ends[:, None, :] - a)) * self.scale).astype(int).clip(0, self.ink.shape[0] - 1)
        hit = self.occupied[pixels[..., 1], pixels[..., 0]]
        if ignore is not None:
            hit &= ~ignore[pixels[..., 1], pixels[..., 0]]
        return inside & ~hit.any(axis=1)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ink.copy(), self.occupied.copy()

    def restore(self, state: tuple[np.ndarray, np.ndarray]) -> None:
        self.ink, self.occupied = state[0].copy(), state[1].copy()

    def claim(self, a: np.ndarray, b: np.ndarray, margin: float) -> np.ndarray:
        """Ink the paddle and mark occupied where another paddle's centre line may not pass (within
        2 * margin of this one's: both dilated by margin may not overlap); returns the newly occupied mask."""
        half = self.p.paddle_thickness / 2
        reach = 2 * margin
        rows, cols, dist = self._distance(a, b, reach)
        self.ink[rows, cols] = np.maximum(self.ink[rows, cols], (dist <= half) * self.p.contrast)
        zone = dist <= reach
        added = np.zeros_like(self.occupied)
        added[rows, cols] = zone & ~self.occupied[rows, cols]
        self.occupied |= added
        return added

    def disk(self, centre: np.ndarray, radius: float) -> None:
        rows, cols, dist = self._distance(centre, centre, radius)
        self.ink[rows, cols] = np.maximum(self.ink[rows, cols], (dist <= radius).astype(np.float32))

    def image(self) -> np.ndarray:
        size = (self.p.resolution, self.p.resolution)
        small = Image.fromarray(self.ink.astype(np.float32)).resize(size, Image.LANCZOS)
        return (np.clip(np.asarray(small), 0, 1) * 255).round().astype(np.uint8)


def _grow(canvas: Canvas, rng: np.random.Generator, start: np.ndarray, paddles: int, margin: float,
          dead_end_budget: int = 60) -> list[np.ndarray] | None:
    """A snake of `paddles` paddles from `start`; its points, or None (canvas untouched) if it dead-ends
    more than `dead_end_budget` times.

    After a dead end the last one to three paddles are taken back and redrawn. The published generator
    instead discards the whole image and starts again, which at 32x32 (a 14-paddle path is 56 px long)
    rejects nearly every try; backtracking keeps the same kind of curled paths at a fraction of the cost.
    """
    p = canvas.p
    weights = np.cos(np.minimum(np.abs(TURNS) * p.continuity, math.pi / 2)) ** 2
    before = canvas.snapshot()
    history: list[tuple[tuple[np.ndarray, np.ndarray], np.ndarray, float, np.ndarray | None]] = []
    point, angle, previous, points = start, 0.0, None, [start]
    dead_ends = 0
    while len(points) <= paddles:
        first = not history
        headings = np.array([rng.uniform(0, 2 * math.pi)]) if first else angle + TURNS
        ends = point + p.paddle_length * np.stack([np.cos(headings), np.sin(headings)], axis=1)
        w = (np.ones(1) if first else weights) * canvas.free_many(point, ends, ignore=previous)
        if w.sum() <= 1e-9:
            dead_ends += 1
            if dead_ends > dead_end_budget:
                canvas.restore(before)
                return None
            for _ in range(min(len(history), int(rng.integers(1, 4)))):
                state, point, angle, previous = history.pop()
                points.pop()
                canvas.restore(state)
            continue
        history.append((canvas.snapshot(), point, angle, previous))
        chosen = rng.choice(len(w), p=w / w.sum())
        angle, end = float(headings[chosen]), ends[chosen]
        previous = canvas.claim(point, end, margin)
        points.append(end)
        point = end + 2 * margin * np.array([math.cos(angle), math.sin(angle)])
    return points


def render(params: Params, rng: np.random.Generator, label: int | None = None,
           attempts: int = 200) -> tuple[np.ndarray, int, dict]:
    """One image (uint8, resolution x resolution), its label, and its geometry (for tests)."""
    label = int(rng.integers(0, 2)) if label is None else label
    res, pad = params.resolution, params.padding
    for _ in range(attempts):
        margin = float(rng.choice(params.margins))
        canvas = Canvas(params)
        border = max(pad, min(2 * params.seed_distance, res / 2 - 1))
        first = rng.uniform(border, res - border, size=2)
        angle = rng.uniform(0, 2 * math.pi)
        second = first + params.seed_distance * np.array([math.cos(angle), math.sin(angle)])
        if not canvas.inside(second):
            continue
        snake_a = _grow(canvas, rng, first, params.contour_length, margin)
        snake_b = _grow(canvas, rng, second, params.contour_length, margin) if snake_a else None
        if snake_b is None:
            continue
        for _ in range(params.num_distractors):
            for _ in range(4):  # a distractor that cannot grow is retried elsewhere, then skipped
                start = rng.uniform(pad, res - pad, size=2)
                if canvas.free(start, start) and _grow(canvas, rng, start, params.distractor_length, margin):
                    break
        marked, other = (snake_a, snake_b) if rng.integers(0, 2) == 0 else (snake_b, snake_a)
        markers = (marked[0], marked[-1] if label == 1 else other[-1])
        for centre in markers:
            canvas.disk(centre, params.marker_radius)
        geometry = {"marked": marked, "other": other, "markers": markers, "margin": margin}
        return canvas.image(), label, geometry
    raise RuntimeError(f"could not place two target paths in {attempts} attempts with {params}")
