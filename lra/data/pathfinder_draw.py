"""The pixel grid of the Pathfinder generator (lra/data/pathfinder_gen.py grows the paths on it).

Paddle stamps and their zones (the paddle dilated by the margin), drawn at antialias times the size and resized
with Lanczos to 8 bits as the original; `Shapes`, the stamps and lookup tables of one (params, margin), with the
search for the pixels where a seed may start on a mask; and the drawing of paddles and markers into the float
layers that `stretch` turns into an 8-bit image.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from lra.data.pathfinder_gen import Params

FREE = 0.3  # a pixel is free while the (dilated) mask is at most this
DEGREES = 360  # seed orientations: whole degrees -180..179


def ahead(point: np.ndarray, angle: np.ndarray | float, distance: float) -> np.ndarray:
    """The pixel `distance` ahead of `point` (row, col) at `angle`, each coordinate rounded up after the
    addition, as the original's translate_coord (so p + 2.0000000000000004 may still round up to p + 2)."""
    return np.ceil(point + distance * np.stack([np.sin(angle), np.cos(angle)], axis=-1)).astype(np.int64)


def reverse(angle: np.ndarray) -> np.ndarray:
    """The opposite orientation, kept within [-pi, pi)."""
    return np.where(angle + np.pi < np.pi, angle + np.pi, angle - np.pi)


def dilate(image: np.ndarray, offsets: np.ndarray, outside: float) -> np.ndarray:
    """out(y, x) = max image(y + dy, x + dx) over offsets, ignoring pixels off the image; `outside` where
    no offset lands on the image."""
    h, w = image.shape
    out = np.full(image.shape, -np.inf)
    for dy, dx in offsets:
        dst = (slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx)))
        src = (slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx)))
        out[dst] = np.maximum(out[dst], image[src])
    out[out == -np.inf] = outside
    return out


def disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    keep = dy ** 2 + dx ** 2 <= radius ** 2
    return np.stack([dy[keep], dx[keep]], axis=1)


class Shapes:
    """Stamps and lookup tables for one (params, margin), built once per process.

    Orientation and stamp ids: 0..359 are the seeds at whole degrees -180..179 (drawn forwards from their
    anchor), 360.. the grown paddles, one per candidate offset (drawn backwards from their end, the anchor).
    Canvases are padded masks, flattened: pixel (y, x) of canvas k is k * area + (y + pad) * side + x + pad."""

    def __init__(self, p: Params, margin: int) -> None:
        self.p, self.margin, self.size = p, margin, p.resolution
        length = p.paddle_length
        self.half = length + math.ceil(p.paddle_thickness) + margin  # a stamp is (2 half + 1) pixels wide
        self.pad = self.half + margin + 2
        self.side = self.size + 2 * self.pad
        self.area = self.side ** 2
        self.step = length + margin
        # candidate ends: points a pixel apart on the circle of radius length + margin, truncated to pixels
        # (for a whole-pixel pivot p, truncating p + offset is p + floor(offset): checked for these radii)
        turns = np.arange(0, 360, 360.0 / (2 * self.step * np.pi)) * np.pi / 180
        self.offsets = np.unique(np.stack([np.floor(self.step * np.sin(turns)),
                                           np.floor(self.step * np.cos(turns))], axis=1).astype(np.int64), axis=0)
        self.seed_angles = np.arange(-180, 180) * np.pi / 180
        self.angles = np.concatenate([self.seed_angles, np.arctan2(self.offsets[:, 0], self.offsets[:, 1])])
        self.drawn = np.concatenate([self.seed_angles, reverse(self.angles[DEGREES:])])
        stamps = [self._stamp(float(a)) for a in self.drawn]
        self.ink = np.stack([s[0] for s in stamps])  # float32 at contrast 1, (n, w, w)
        self.zone = np.stack([s[1] for s in stamps])  # float32, (n, w, w)
        grown = np.pad(self.zone, ((0, 0), (margin, margin), (margin, margin)))
        near = np.max([np.roll(grown, (dy, dx), axis=(1, 2)) for dy, dx in disc(margin)], axis=0)
        # zones as lists of (cell offset, value) over their non-zero pixels: a zero never changes the mask
        # nor makes a paddle collide (the mask stays at most 1), and a paddle's zone is half empty
        self.zone_at, self.zone_level = self._sparse(self.zone)
        self.near_at, self.near_level = self._sparse(near)  # the zone dilated by the margin, as the mask is
        inside = np.zeros((self.side, self.side), dtype=np.uint8)
        inside[self.pad:self.pad + self.size, self.pad:self.pad + self.size] = 1
        self.inside = inside.ravel()
        # per orientation: the weight of each turn, and where the next pivot lies for each pivot coordinate
        turn = np.abs(self.angles[DEGREES:][None] - self.angles[:, None])
        turn = np.minimum(np.minimum(turn, 2 * np.pi - turn) * p.continuity, 0.5 * np.pi)
        self.turn_weight = np.maximum(np.cos(turn), 0) ** 2
        self.lo = -(2 * length + 3 * margin + 4)
        coords = np.arange(self.lo, self.size - self.lo)
        reach = length + 2 * margin
        self.advance = [np.ceil(coords[None] + reach * f(self.angles)[:, None]).astype(np.int64) - coords[None]
                        for f in (np.sin, np.cos)]
        self.fits_y, self.fits_x = [((coords[:, None] + self.offsets[None, :, i] >= 0)
                                     & (coords[:, None] + self.offsets[None, :, i] < self.size)) for i in (0, 1)]
        self.offset_flat = self.offsets[:, 0] * self.side + self.offsets[:, 1]
        self.ring = np.zeros((self.size, self.size))
        self.ring[:p.padding], self.ring[-p.padding:], self.ring[:, :p.padding], self.ring[:, -p.padding:] = 1, 1, 1, 1
        self.taps = [self._taps(i) for i in range(DEGREES)]
        self.usable = np.array([self._usable(t) for t in self.taps])
        self._target_starts()

    def _sparse(self, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per stamp, the canvas offsets (from its centre) of its non-zero pixels and their 8-bit levels,
        padded with (0, 0)."""
        half = stamps.shape[1] // 2
        r = np.arange(-half, half + 1)
        cells = (r[:, None] * self.side + r[None, :]).ravel()
        flat = stamps.reshape(len(stamps), -1)
        count = (flat > 0).sum(axis=1).max()
        at, value = np.zeros((len(flat), count), dtype=np.int64), np.zeros((len(flat), count), dtype=np.uint8)
        for i, row in enumerate(flat):
            keep = np.flatnonzero(row)
            at[i, :len(keep)], value[i, :len(keep)] = cells[keep], np.round(row[keep] * 255)
        return at, value

    def _stamp(self, angle: float) -> tuple[np.ndarray, np.ndarray]:
        """Ink and zone of a paddle anchored at the stamp's centre pixel, drawn at `angle`."""
        p, aa, half = self.p, self.p.antialias, self.half
        big, centre = 2 * half * aa + 1, half * aa
        end = ahead(np.array([centre, centre], dtype=np.float64), angle, p.paddle_length * aa)
        line = Image.new("L", (big, big), 0)
        ImageDraw.Draw(line).line([(centre, centre), (int(end[1]), int(end[0]))], fill=255,
                                  width=int(round(p.paddle_thickness * aa)))
        small = (2 * half + 1,) * 2
        ink = np.asarray(line.resize(small, Image.LANCZOS), dtype=np.float32) / np.float32(255)
        grown = dilate(np.asarray(line, dtype=np.float64), disc(self.margin * aa), 0.0).astype(np.uint8)
        zone = np.asarray(Image.fromarray(grown).resize(small, Image.LANCZOS), dtype=np.float32) / np.float32(255)
        return ink, zone

    def _taps(self, seed: int) -> np.ndarray:
        """Where a seed at degree index `seed` looks for occupied pixels: the full (255) pixels of its zone,
        as offsets from the anchor plus one pixel, cut to a (2 step + 1) square whose corner holds the anchor
        at step + 1 (the original builds its dilation kernel so, and anchors the kernel at its centre)."""
        core = np.argwhere(self.zone[seed] == 1.0) - self.half + 1
        return core[np.all((core >= -self.step) & (core <= self.step), axis=1)]

    def _usable(self, taps: np.ndarray) -> bool:
        """Whether every pixel has a tap on the image; if not, OpenCV fills it with -DBL_MAX and the
        original finds no free pixel for this seed orientation at all."""
        return len(taps) > 0 and bool(dilate(np.ones((self.size, self.size)), taps, 0.0).min() > 0)

    def free_start(self, mask: np.ndarray, seed: int, rng: np.random.Generator, probes: int = 32) -> int | None:
        """A pixel drawn uniformly from free_starts (flat index), or None if there is none. Random probes
        first (the first free one is uniform over the free pixels), the full search only if all miss."""
        flat = rng.integers(0, self.size ** 2, probes)
        at = np.stack([flat // self.size, flat % self.size], axis=1)[:, None] + self.taps[seed][None]
        on = np.all((at >= 0) & (at < self.size), axis=2)
        edge = np.any((at == 0) | (at == self.size - 1), axis=2)  # the search counts the border as occupied
        looked = np.where(on, np.where(edge, 1.0, mask[at[..., 0].clip(0, self.size - 1),
                                                       at[..., 1].clip(0, self.size - 1)]), -np.inf)
        hits = np.flatnonzero(looked.max(axis=1) <= FREE)
        if len(hits):
            return int(flat[hits[0]])
        starts = self.free_starts(mask, seed)
        return int(starts[rng.integers(0, len(starts))]) if len(starts) else None

    def free_starts(self, mask: np.ndarray, seed: int) -> np.ndarray:
        """Flat indices (y * size + x) of the pixels where a seed at degree index `seed` may be anchored."""
        lined = mask.copy()
        lined[0], lined[-1], lined[:, 0], lined[:, -1] = 1, 1, 1, 1
        return np.flatnonzero(dilate(lined, self.taps[seed], 1.0) <= FREE)

    def _target_starts(self) -> None:
        """Free anchors of the first target seed per degree: the mask is then the padding ring and all
        within 2 * seed_distance of the border, so the table is the same for every image."""
        band, cut = self.ring.copy(), 2 * self.p.seed_distance
        band[:cut], band[-cut:], band[:, :cut], band[:, -cut:] = 1, 1, 1, 1
        starts = [self.free_starts(band, i) if self.usable[i] else np.zeros(0, np.int64) for i in range(DEGREES)]
        self.start_count = np.array([len(s) for s in starts])
        self.start_table = np.zeros((DEGREES, max(1, self.start_count.max())), dtype=np.int64)
        for i, s in enumerate(starts):
            self.start_table[i, :len(s)] = s

    def at(self, point: np.ndarray) -> np.ndarray:
        """Flat position within a canvas of pixels (..., 2)."""
        return (point[..., 0] + self.pad) * self.side + point[..., 1] + self.pad

    def point(self, at: np.ndarray) -> np.ndarray:
        return np.stack([at // self.side - self.pad, at % self.side - self.pad], axis=-1)


@lru_cache(maxsize=16)
def shapes_for(params: Params, margin: int) -> Shapes:
    return Shapes(params, margin)


def draw_paddles(s: Shapes, paddles: list, contrast: float) -> np.ndarray:
    """The ink of `paddles` ((anchor (y, x), stamp id) each) at `contrast`, the brightest stamp where they meet."""
    layer = np.zeros((s.side, s.side), dtype=np.float32)
    r = np.arange(-s.half, s.half + 1) + s.pad
    for (y, x), stamp in paddles:
        window = (slice(y + r[0], y + r[-1] + 1), slice(x + r[0], x + r[-1] + 1))
        layer[window] = np.maximum(layer[window], s.ink[stamp] * np.float32(contrast))
    return layer[s.pad:s.pad + s.size, s.pad:s.pad + s.size].astype(np.float64)


def draw_marker(p: Params, centre: np.ndarray) -> np.ndarray:
    """A disc of marker_radius centred on the corner of pixel `centre`, drawn at antialias times the size and
    resized with Lanczos to 8 bits (the original's draw_circle)."""
    aa, big = p.antialias, p.resolution * p.antialias
    y, x = np.ogrid[:big, :big]
    spot = ((y - centre[0] * aa) ** 2 + (x - centre[1] * aa) ** 2 <= (p.marker_radius * aa) ** 2)
    small = Image.fromarray((spot * 255).astype(np.uint8)).resize((p.resolution,) * 2, Image.LANCZOS)
    return np.asarray(small, dtype=np.float32) / np.float32(255)


def stretch(image: np.ndarray) -> np.ndarray:
    """min..max onto 0..255, rounded half up: how scipy's old imsave wrote a float image."""
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) * (255.0 / ((high - low) or 1.0))
    return (scaled.clip(0, 255) + 0.5).astype(np.uint8)
