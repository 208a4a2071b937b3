"""A Pathfinder generator that follows the original's algorithm (Linsley et al. 2018, `drewlinsley/pathfinder`:
snakes2.py run with its wrapper's settings and the LRA builder's parameters per resolution), written anew.

Step by step in docs/tasks.md. In short, on the pixel grid as the original: paddles are 8-bit stamps whose
zones (the paddle dilated by the margin) fill an occupancy mask that starts as the padding ring; snakes
start from a whole-degree seed on a free pixel and grow a paddle at a time towards pixels on a truncated
circle, weighted by continuity and freedom, three draws per paddle; two target snakes grow alternately and
any dead end redraws both (so we grow many pairs side by side and keep the first that completes);
distractors get up to 5 tries each; markers sit on the target ends the label says; targets are drawn at
paddle x snake contrast, distractors at snake contrast, and the image is stretched so its brightest pixel
is 255. The original's OpenCV border quirk, which allows seeds at only some orientations (30 of 360 at
32x32), is kept, since LRA's images were made by that code; the first target snake's last paddle, which the original
forgets, is added to the mask.

This module holds the parameters and the growing of the paths; the pixel grid they grow on (stamps, lookup
tables, the seed search, drawing to 8 bits) is lra/data/pathfinder_draw.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from lra.data.pathfinder_draw import (
    DEGREES,
    FREE,
    Shapes,
    ahead,
    dilate,
    disc,
    draw_marker,
    draw_paddles,
    reverse,
    shapes_for,
    stretch,
)

DIFFICULTY_LENGTH = {"easy": 6, "intermediate": 9, "hard": 14}
DIFFICULTY_FOLDER = {"easy": "curv_baseline", "intermediate": "curv_contour_length_9",
                     "hard": "curv_contour_length_14"}
OVERLAP = 1.8  # a new zone plus the mask must stay below this everywhere (the original's test)
TRIES = 3  # draws per paddle (the original's max_paddle_retrial = 2, plus one)
CELLS = 1 << 22  # mask cells per round of target pairs (two arrays of this: 8 MB)
# Masks hold 8-bit levels (every zone is an 8-bit stamp, the ring is 255); LEVEL gives the value the
# original held (a float32 k / 255), so sums and comparisons come out as in the original.
LEVEL = (np.arange(256, dtype=np.float32) / np.float32(255)).astype(np.float64)


@dataclass(frozen=True)
class Params:
    resolution: int
    padding: int
    paddle_length: int
    paddle_thickness: float
    margins: tuple[int, ...]
    marker_radius: float
    seed_distance: int
    contour_length: int
    continuity: float
    distractor_total: int  # num_distractors = distractor_total // distractor_length
    snake_contrast: float  # distractors are drawn at this; targets at paddle_contrast * snake_contrast
    paddle_contrast: float
    antialias: int
    distractor_tries: int = 5  # the original's max_distractor_contour_retrial = 4, plus one

    @property
    def distractor_length(self) -> int:
        return max(self.contour_length // 3, 1)

    @property
    def num_distractors(self) -> int:
        return self.distractor_total // self.distractor_length


# LRA's customised parameters per resolution (lra_benchmarks/data/pathfinder.py docstrings) over the
# wrapper's defaults (padding 22, paddle length 5, seed distance 27, paddle contrast 1).
_LRA = {
    32: Params(32, 1, 2, 0.5, (1,), 1.5, 7, 14, 1.0, 20, 2.0, 0.75, 2),
    64: Params(64, 1, 5, 1.0, (1,), 2.5, 12, 14, 1.8, 22, 0.8, 1.0, 2),
    128: Params(128, 1, 5, 1.5, (2, 3), 3.0, 20, 14, 1.8, 35, 0.9, 1.0, 2),
    256: Params(256, 22, 5, 2.0, (3,), 5.0, 27, 14, 1.8, 30, 1.0, 1.0, 2),
}


def lra_params(resolution: int, difficulty: str) -> Params:
    if resolution not in _LRA:
        raise ValueError(f"resolution must be one of {sorted(_LRA)}")
    if difficulty not in DIFFICULTY_LENGTH:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTY_LENGTH)}")
    return replace(_LRA[resolution], contour_length=DIFFICULTY_LENGTH[difficulty])


def _seed_fits(s: Shapes, anchors: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Far end and pivot of seeds, and whether both are on the image (the original redraws the seed if not)."""
    p, angle = s.p, s.seed_angles[seeds]
    head = ahead(anchors.astype(np.float64), angle, p.paddle_length)
    pivot = ahead(head.astype(np.float64), reverse(angle), p.paddle_length + s.margin)
    on = np.all((head >= 0) & (head < s.size) & (pivot >= 0) & (pivot < s.size), axis=-1)
    return head, pivot, on


class _Snakes:
    """Snakes grown side by side, snake i on canvas i of `masks` (and its margin-dilated copy `near`)."""

    def __init__(self, s: Shapes, masks: np.ndarray, near: np.ndarray, anchors: np.ndarray, seeds: np.ndarray,
                 steps: int) -> None:
        self.s, self.masks, self.near = s, masks.reshape(-1), near.reshape(-1)
        head, self.pivot, _ = _seed_fits(s, anchors, seeds)
        self.orient = seeds.copy()
        self.base = np.arange(len(seeds)) * s.area
        self.anchor = np.zeros((len(seeds), steps), dtype=np.int64)  # flat positions of each paddle's anchor
        self.stamp = np.zeros((len(seeds), steps), dtype=np.int64)
        self.anchor[:, 0], self.stamp[:, 0], self.done = s.at(anchors), seeds, 1
        self.starts, self.first_ends = anchors.copy(), head

    def commit(self, which: np.ndarray, step: int) -> None:
        """Add the zones of the paddles placed at `step` by snakes `which` to their masks."""
        s, at, stamp = self.s, self.anchor[which, step], self.stamp[which, step]
        cells = (self.base[which] + at)[:, None] + s.zone_at[stamp]
        inside = s.inside[at[:, None] + s.zone_at[stamp]]  # the original cuts stamps at the image's edge
        self.masks[cells] = np.maximum(self.masks[cells], s.zone_level[stamp] * inside)
        cells = (self.base[which] + at)[:, None] + s.near_at[stamp]
        self.near[cells] = np.maximum(self.near[cells], s.near_level[stamp])

    def grow(self, which: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One more paddle for snakes `which`; returns which of them succeeded."""
        s, n, step = self.s, len(which), self.done
        pivot, orient = self.pivot[which] - s.lo, self.orient[which]
        pivot = np.stack([pivot[:, 0] + s.advance[0][orient, pivot[:, 0]],
                          pivot[:, 1] + s.advance[1][orient, pivot[:, 1]]], axis=1)
        on = s.fits_y[pivot[:, 0]] & s.fits_x[pivot[:, 1]]
        pivot += s.lo
        centre = self.base[which] + s.at(pivot)
        cells = np.where(on, centre[:, None] + s.offset_flat, 0)
        weight = on * (1 - LEVEL[self.near[cells]]) * s.turn_weight[orient]
        total = weight.sum(axis=1)
        cmf = np.cumsum(weight, axis=1) / np.maximum(total, 1e-300)[:, None]
        pick = (cmf[:, None, :] <= rng.random((n, TRIES))[..., None]).sum(axis=2)
        last = len(s.offsets) - 1 - np.argmax(weight[:, ::-1] > 0, axis=1)  # u at 1 - 1e-17 must not overrun
        pick = np.minimum(pick, last[:, None])
        # a snake with no free candidate (total < 1e-4) fails; look at a harmless pixel for it meanwhile
        heads = np.where(np.take_along_axis(on, pick, axis=1), centre[:, None] + s.offset_flat[pick],
                         self.base[which, None] + s.at(np.zeros(2, dtype=np.int64)))
        # the draws are tried in turn; most first draws fit, so later ones are looked at only where needed
        fits = np.zeros((n, TRIES), dtype=bool)
        todo = np.arange(n)
        for t in range(TRIES):
            stamp = DEGREES + pick[todo, t]
            # float64 sums of float32 values, exact, as the original's float64 mask plus float32 zone
            occupied = LEVEL[self.masks[heads[todo, t, None] + s.zone_at[stamp]]]
            fits[todo, t] = (occupied + LEVEL[s.zone_level[stamp]]).max(axis=1) < OVERLAP
            todo = todo[~fits[todo, t]]
            if len(todo) == 0:
                break
        ok = (total >= 1e-4) & fits.any(axis=1)
        first = np.argmax(fits, axis=1)
        chosen, head = pick[np.arange(n), first][ok], heads[np.arange(n), first][ok]
        good = which[ok]
        self.commit(good, step - 1)  # the previous paddle joins the mask once this one is placed
        self.anchor[good, step] = head - self.base[good]
        self.stamp[good, step] = DEGREES + chosen
        self.pivot[good], self.orient[good] = pivot[ok], DEGREES + chosen
        return ok

    def path(self, i: int) -> tuple[list, list]:
        """Snake i's paddles as (anchor (y, x), stamp id), and its points: start, then each paddle's far end."""
        anchors = self.s.point(self.anchor[i, :self.done])
        paddles = list(zip(anchors, self.stamp[i, :self.done]))
        return paddles, [self.starts[i], self.first_ends[i]] + list(anchors[1:])


def _canvases(s: Shapes, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n canvases holding `mask` (flat, padded), or the padding ring; and their margin-dilated copies."""
    if mask is None:
        ring = np.zeros((s.side, s.side), dtype=np.uint8)
        ring[s.pad:s.pad + s.size, s.pad:s.pad + s.size] = s.ring * 255
        near = np.zeros_like(ring)
        near[s.pad:s.pad + s.size, s.pad:s.pad + s.size] = dilate(s.ring, disc(s.margin), 0.0) * 255
        mask = np.stack([ring.ravel(), near.ravel()])
    return np.repeat(mask[0][None], n, axis=0), np.repeat(mask[1][None], n, axis=0)


def _target_seeds(s: Shapes, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeds of n target pairs, kept only where both were placed: anchors (k, 2, 2), degree indices (k, 2)."""
    anchors, seeds = np.zeros((n, 2, 2), dtype=np.int64), np.zeros((n, 2), dtype=np.int64)
    alive, todo = np.ones(n, dtype=bool), np.arange(n)
    for _ in range(TRIES):  # the first: a free pixel near the centre; none at this degree ends the try
        degree = rng.integers(0, DEGREES, len(todo))
        count = s.start_count[degree]
        alive[todo[count == 0]] = False
        todo, degree, count = todo[count > 0], degree[count > 0], count[count > 0]
        flat = s.start_table[degree, (rng.random(len(todo)) * count).astype(np.int64)]
        anchors[todo, 0], seeds[todo, 0] = np.stack([flat // s.size, flat % s.size], axis=1), degree
        todo = todo[~_seed_fits(s, anchors[todo, 0], degree)[2]]
    alive[todo] = False
    todo = np.flatnonzero(alive)
    for _ in range(TRIES):  # the second: seed_distance away at a whole-degree angle, wherever that is
        degree = rng.integers(0, DEGREES, len(todo))
        away = rng.integers(0, 360, len(todo)) * np.pi / 180
        spot = anchors[todo, 0] + s.p.seed_distance * np.stack([np.sin(away), np.cos(away)], axis=1)
        anchors[todo, 1], seeds[todo, 1] = np.round(spot).astype(np.int64), degree
        todo = todo[~_seed_fits(s, anchors[todo, 1], degree)[2]]
    alive[todo] = False
    return anchors[alive], seeds[alive]


def _grow_all(snakes: list[_Snakes], n: int, paddles: int, rng: np.random.Generator) -> np.ndarray:
    """Grow n attempts, each a snake of every entry in `snakes` (taking turns, a paddle each), to `paddles`
    paddles; the attempts whose snakes all grew fully."""
    alive = np.ones(n, dtype=bool)
    for _ in range(paddles - 1):
        for snake in snakes:
            live = np.flatnonzero(alive)
            if len(live):
                alive[live[~snake.grow(live, rng)]] = False
            snake.done += 1
    return np.flatnonzero(alive)


def _target_pair(s: Shapes, n: int, rng: np.random.Generator, count: bool = False):
    """Grow n seeded target pairs side by side; the first that grows fully: its canvas, and its paddles and
    points per snake (None if none does). With `count`, only how many grew fully."""
    found = [_target_seeds(s, 256, rng)]
    while sum(len(f[1]) for f in found) < n:  # most tries fail to seed at 32x32 (only 30 degrees can)
        found.append(_target_seeds(s, 256, rng))
    anchors, seeds = np.concatenate([f[0] for f in found])[:n], np.concatenate([f[1] for f in found])[:n]
    masks, near = _canvases(s, len(seeds))
    snakes = [_Snakes(s, masks, near, anchors[:, i], seeds[:, i], s.p.contour_length) for i in range(2)]
    live = _grow_all(snakes, len(seeds), s.p.contour_length, rng)
    if count or len(live) == 0:
        return len(live) if count else None
    won = live[:1]
    for snake in snakes:  # the original adds only the second snake's last paddle; we add both
        snake.commit(won, snake.done - 1)
    paths = [snake.path(won[0]) for snake in snakes]
    return np.stack([masks[won[0]], near[won[0]]]), [p[0] for p in paths], [p[1] for p in paths]


def _distractor(s: Shapes, canvas: np.ndarray, rng: np.random.Generator) -> list | None:
    """One distractor snake on `canvas` (mask and dilated mask, updated in place), or None if all tries fail."""
    p, image = s.p, canvas[0].reshape(s.side, s.side)[s.pad:s.pad + s.size, s.pad:s.pad + s.size]
    image = LEVEL[image]
    if (image <= FREE).mean() < 0.01:  # the original stops placing snakes on a full image
        return None
    anchors, seeds = [], []
    for _ in range(p.distractor_tries):  # the tries are independent until one succeeds: run them side by side
        for _ in range(TRIES):
            degree = int(rng.integers(0, DEGREES))
            flat = s.free_start(image, degree, rng) if s.usable[degree] else None
            if flat is None:
                break
            anchor = np.array([flat // s.size, flat % s.size])
            if _seed_fits(s, anchor[None], np.array([degree]))[2][0]:
                anchors.append(anchor)
                seeds.append(degree)
                break
    if not anchors:
        return None
    masks, near = _canvases(s, len(seeds), canvas)
    snake = _Snakes(s, masks, near, np.array(anchors), np.array(seeds), p.distractor_length)
    live = _grow_all([snake], len(seeds), p.distractor_length, rng)
    if len(live) == 0:
        return None
    won = live[:1]  # the first try that succeeds, as the original's tries in turn
    snake.commit(won, snake.done - 1)
    canvas[0], canvas[1] = masks[won[0]], near[won[0]]
    return snake.path(won[0])[0]


@lru_cache(maxsize=16)
def pairs_per_round(s: Shapes) -> int:
    """How many seeded target pairs to grow side by side: about twice as many as yield one pair that grows
    fully, estimated once per process from a fixed seed (so every process and image uses the same number),
    at most CELLS mask cells. At 32x32 one seeded pair in 25 grows fully at hard, one in 2 at easy."""
    rng, tried, grown, most = np.random.default_rng(20180101), 0, 0, max(1, CELLS // s.area)
    while grown < 8 and tried < 1 << 15:
        grown += _target_pair(s, most, rng, count=True)
        tried += most
    return int(np.clip(2 * tried // max(grown, 1), 4, most))


def render(params: Params, rng: np.random.Generator, label: int | None = None, attempts: int = 200,
           diagnostics: bool = False) -> tuple[np.ndarray, int, dict]:
    """One image (uint8, resolution x resolution), its label, and its geometry: the two target paths as
    points (x, y) from start to end ("marked" holds the start marker), the markers, the margin. With
    `diagnostics`, also the distractors placed, the paddles of each target path and distractor as (anchor
    row, anchor col, drawn angle), and the float layers (target, distractor, marker) before the stretch.

    Target pairs are tried many at a time (pairs_per_round), in at most `attempts` rounds."""
    label = int(rng.integers(0, 2)) if label is None else label
    margin = int(params.margins[rng.integers(0, len(params.margins))])
    s = shapes_for(params, margin)
    batch = pairs_per_round(s)
    for _ in range(attempts):
        pair = _target_pair(s, batch, rng)
        if pair is not None:
            break
        batch = min(2 * batch, max(1, CELLS // s.area))
    else:
        raise RuntimeError(f"could not place two target paths in {attempts} rounds with {params}")
    canvas, paddles, ends = pair
    distractors = [d for d in (_distractor(s, canvas, rng) for _ in range(params.num_distractors)) if d]
    target = draw_paddles(s, paddles[0] + paddles[1], params.paddle_contrast * params.snake_contrast)
    clutter = draw_paddles(s, [paddle for snake in distractors for paddle in snake], params.snake_contrast)
    first = int(rng.integers(0, 2))
    marked, other = ends[first], ends[1 - first]
    markers = (marked[0], marked[-1] if label == 1 else other[-1])
    marker = np.maximum(draw_marker(params, markers[0]), draw_marker(params, markers[1])).astype(np.float64)
    image = stretch(np.maximum(np.maximum(target, clutter), marker))

    def xy(point: np.ndarray) -> np.ndarray:
        return np.array([point[1], point[0]], dtype=np.float64)

    geometry = {"marked": [xy(e) for e in marked], "other": [xy(e) for e in other],
                "markers": tuple(xy(m) for m in markers), "margin": margin}
    if diagnostics:
        geometry["distractors_placed"] = len(distractors)
        geometry["paddles"] = [[(int(a[0]), int(a[1]), float(s.drawn[i])) for a, i in path] for path in paddles]
        geometry["distractor_paddles"] = [[(int(a[0]), int(a[1]), float(s.drawn[i])) for a, i in snake]
                                          for snake in distractors]
        geometry["layers"] = {"target": target, "distractor": clutter, "marker": marker}
    return image, label, geometry
