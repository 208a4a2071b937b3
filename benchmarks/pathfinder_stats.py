"""Image statistics of our Pathfinder generator beside the original's (drewlinsley/pathfinder), for docs/tasks.md.

    python benchmarks/pathfinder_stats.py --n 300 --out docs/pathfinder_stats.json
    python benchmarks/pathfinder_stats.py --n 300 --original /tmp/pathfinder --out docs/pathfinder_stats.json

`--original DIR` also runs the original generator (a checkout holding snakes.py and snakes2.py) with the
settings LRA used at 32x32 (its wrapper's settings, LRA's customised parameters) and measures its images
with the same code. Its modules are imported as they are; only what is missing in a modern environment is
supplied: scipy's removed imresize/imsave behaviour (a float array is stretched to 0..255 and rounded before
the resize, and a float image is stretched so its brightest pixel is 255 when saved), and, when OpenCV or
matplotlib is not installed, a numpy dilation and an empty plotting module.

Per image: mean intensity (0..255), fraction of non-zero pixels, pixels at 255, distractor snakes placed,
share of the ink (the summed intensity of pixels above 32) in the outer 2-pixel ring; over all target
paths: the gap between consecutive paddles (nearest ends, in pixels); over all images: the 90th percentile
of the brightness of ink pixels drawn by the target paths only versus by distractors only (no marker).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
from PIL import Image

RING = 2  # width of the border ring whose ink is measured
INK = 32  # pixels brighter than this are ink: an eighth of full scale leaves out the faint Lanczos fringes


def stretch(image: np.ndarray) -> np.ndarray:
    """scipy's old bytescale: min..max onto 0..255, rounded half up (how the original saved its float images)."""
    low, high = float(image.min()), float(image.max())
    scale = 255.0 / ((high - low) or 1.0)
    return ((image - low) * scale + 0.5).clip(0, 255.5).astype(np.uint8)


def paddle_gaps(paths: list[list[tuple[float, float, float]]], length: float) -> list[float]:
    """Gaps along each path given its paddles as (row, col, angle): a paddle runs from (row, col) for `length`
    pixels at `angle`; the gap between two consecutive paddles is the distance between their nearest ends."""
    gaps = []
    for paddles in paths:
        ends = [np.array([[r, c], [r + length * np.sin(a), c + length * np.cos(a)]]) for r, c, a in paddles]
        for first, second in zip(ends, ends[1:]):
            gaps.append(float(np.min(np.hypot(*(first[:, None, :] - second[None, :, :]).transpose(2, 0, 1)))))
    return gaps


def image_record(image: np.ndarray, target: np.ndarray, distractor: np.ndarray, marker: np.ndarray,
                 distractors: int, paths: list, length: float) -> dict:
    """The per-image measures of one 8-bit image and its float layers (before the stretch)."""
    ring = np.ones(image.shape, dtype=bool)
    ring[RING:-RING, RING:-RING] = False
    pixels = image.astype(np.float64)
    ink = pixels * (image > INK)
    only_target = (target > 0) & (distractor == 0) & (marker == 0) & (image > INK)
    only_distractor = (distractor > 0) & (target == 0) & (marker == 0) & (image > INK)
    return {"mean": pixels.mean(), "nonzero": float((image > 0).mean()), "saturated": int((image == 255).sum()),
            "distractors": distractors, "ring_ink": ink[ring].sum() / max(ink.sum(), 1.0),
            "gaps": paddle_gaps(paths, length), "target_values": image[only_target].tolist(),
            "distractor_values": image[only_distractor].tolist()}


def summarise(records: list[dict]) -> dict:
    """Mean and standard deviation over images (gaps: over all gaps; brightness: pooled 90th percentiles,
    with the spread of the per-image 90th percentiles)."""
    out = {}
    for key in ("mean", "nonzero", "saturated", "distractors", "ring_ink"):
        values = np.array([r[key] for r in records], dtype=np.float64)
        out[key] = {"mean": round(float(values.mean()), 4), "std": round(float(values.std()), 4)}
    gaps = np.concatenate([r["gaps"] for r in records])
    out["gap"] = {"mean": round(float(gaps.mean()), 3), "std": round(float(gaps.std()), 3)}
    for key in ("target_values", "distractor_values"):
        pooled = np.concatenate([r[key] for r in records]).astype(np.float64)
        per_image = [np.percentile(r[key], 90) for r in records if len(r[key])]
        out[key.replace("_values", "_p90")] = {"mean": round(float(np.percentile(pooled, 90)), 1),
                                               "std": round(float(np.std(per_image)), 1)}
    return out


# ---------------------------------------------------------------------------------------------- ours


def measure_ours(n: int, difficulty: str, seed: int) -> tuple[list[dict], float]:
    from lra.data.pathfinder_gen import lra_params, render

    params = lra_params(32, difficulty)
    rng = np.random.default_rng(seed)
    records, started = [], time.perf_counter()
    for _ in range(n):
        image, _, geometry = render(params, rng, diagnostics=True)
        layers = geometry["layers"]
        records.append(image_record(image, layers["target"], layers["distractor"], layers["marker"],
                                    geometry["distractors_placed"], geometry["paddles"], params.paddle_length))
    return records, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- original


def _old_scipy_imresize(array: np.ndarray, size: tuple[int, int], interp: str = "lanczos") -> np.ndarray:
    """scipy.misc.imresize as it was: a non-uint8 array is stretched onto 0..255 first, the result is uint8."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = stretch(array)
    resample = {"lanczos": Image.LANCZOS, "nearest": Image.NEAREST}.get(interp, Image.BILINEAR)
    return np.asarray(Image.fromarray(array).resize((size[1], size[0]), resample=resample))


def _numpy_dilate(src: np.ndarray, kernel: np.ndarray, iterations: int = 1) -> np.ndarray:
    """cv2.dilate with the anchor at the kernel's centre: the maximum of src over the kernel's footprint
    (dst(y, x) = max src(y + i - ay, x + j - ax) over non-zero kernel(i, j)). Outside the image counts as
    nothing, so where every tap falls outside, OpenCV leaves the lowest value of the type (-DBL_MAX); the
    original's coordinate search reads a negative value as "no free place", which matters (see tasks.md)."""
    src = np.asarray(src)
    ay, ax = kernel.shape[0] // 2, kernel.shape[1] // 2
    out = np.full(src.shape, np.finfo(src.dtype).min if src.dtype.kind == "f" else 0, dtype=src.dtype)
    h, w = src.shape
    for i, j in np.argwhere(np.asarray(kernel) != 0):
        dy, dx = i - ay, j - ax
        ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
        yd, xd = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
        out[ys, xs] = np.maximum(out[ys, xs], src[yd, xd])
    return out


def _load_original(folder: Path) -> tuple[types.ModuleType, types.ModuleType]:
    try:
        import cv2  # noqa: F401
    except ImportError:
        sys.modules["cv2"] = types.SimpleNamespace(dilate=_numpy_dilate, useOptimized=lambda: None)
    for name in ("scipy", "scipy.ndimage", "matplotlib", "matplotlib.pyplot"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    sys.modules["scipy"].ndimage = sys.modules["scipy.ndimage"]
    sys.path.insert(0, str(folder))
    import snakes
    import snakes2

    snakes._imresize = snakes2._imresize = _old_scipy_imresize
    return snakes, snakes2


def lra32_args(difficulty: str) -> types.SimpleNamespace:
    """The wrapper's settings (snakes2_wrapper.py) with LRA's 32x32 customisation
    (lra_benchmarks/data/pathfinder.py)."""
    length = {"easy": 6, "intermediate": 9, "hard": 14}[difficulty]
    return types.SimpleNamespace(
        window_size=[32, 32], padding=1, antialias_scale=2, seed_distance=7, marker_radius=1.5,
        contour_length=length, distractor_length=length // 3, num_distractor_snakes=20 // (length // 3),
        snake_contrast_list=[2], paddle_contrast_list=[0.75], use_single_paddles=False,
        max_distractor_contour_retrial=4, max_paddle_retrial=2, continuity=1.0, paddle_length=2,
        paddle_thickness=0.5, paddle_margin_list=[1])


def measure_original(folder: Path, n: int, difficulty: str, seed: int) -> tuple[list[dict], float, list[int]]:
    """Run the original generator's steps for one image at a time (as its from_wrapper does, with the
    single-paddle clutter off as the wrapper sets it) and keep the layers apart for measuring."""
    import random

    snakes, snakes2 = _load_original(folder)
    args = lra32_args(difficulty)
    np.random.seed(seed)
    random.seed(seed)
    log: dict = {}
    seeds, extend, make_snake = snakes2.initialize_two_seeds, snakes.extend_snake, snakes.make_snake

    def seeds_logged(*a, **k):
        out = seeds(*a, **k)
        log["seeds"] = list(zip(out[5], out[4]))  # (tail, orientation) of each target path
        log["steps"] = []
        return out

    def extend_logged(*a, **k):
        out = extend(*a, **k)
        if out[-1]:
            log.setdefault("steps", []).append((out[5], out[4]))  # (head, orientation) of the new paddle
        return out

    def make_snake_logged(*a, **k):
        out = make_snake(*a, **k)
        log["placed"] = log.get("placed", 0) + bool(out[-1])
        return out

    snakes2.initialize_two_seeds, snakes.extend_snake = seeds_logged, extend_logged
    snakes.make_snake = make_snake_logged
    records, redraws, started = [], [], time.perf_counter()
    size = args.window_size
    for _ in range(n):
        label = int(np.random.randint(0, 2))
        margin = args.paddle_margin_list[np.random.randint(0, len(args.paddle_margin_list))]
        small, large = snakes.generate_dilation_struct(margin), snakes.generate_dilation_struct(margin * 2)
        tries, ok = 0, False
        while not ok:
            tries += 1
            pair, mask, origins, terminals, ok = snakes2.two_snakes(
                size, args.padding, args.seed_distance, args.contour_length, args.paddle_length,
                args.paddle_thickness, margin, args.continuity, small, large, args.snake_contrast_list,
                args.paddle_contrast_list, args.max_paddle_retrial, args.antialias_scale)
        redraws.append(tries)
        # the two paths alternate: steps 0, 2, 4... extend the first, 1, 3, 5... the second
        paths = []
        for index, (tail, angle) in enumerate(log["seeds"]):
            paddles = [(tail[0], tail[1], angle)]
            for head, orientation in log["steps"][index::2]:
                paddles.append((head[0], head[1], snakes.flip_by_pi(orientation)))
            paths.append(paddles)
        target = np.maximum(pair[0], pair[1])
        log["placed"] = 0
        distractor, mask = snakes.make_many_snakes(
            np.zeros_like(target), mask, args.num_distractor_snakes, args.max_distractor_contour_retrial,
            args.distractor_length, args.paddle_length, args.paddle_thickness, margin, args.continuity,
            args.snake_contrast_list, args.max_paddle_retrial, args.antialias_scale, allow_incomplete=True,
            allow_shorter_snakes=False, stop_with_availability=0.01)
        first = np.random.randint(0, 2)
        ends = (origins[first], terminals[first if label else 1 - first])
        marker = np.maximum(*(snakes2.draw_circle(size, end, args.marker_radius, args.antialias_scale)
                              for end in ends)).astype(np.float32) / 255.0
        image = stretch(np.maximum(np.maximum(target, distractor), marker))
        records.append(image_record(image, target, distractor, marker, log["placed"], paths, args.paddle_length))
    return records, time.perf_counter() - started, redraws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--original", type=Path, help="a checkout of drewlinsley/pathfinder to measure as well")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result: dict = {"n_images": args.n, "resolution": 32, "difficulty": args.difficulty, "seed": args.seed}
    if not args.skip_ours:
        records, seconds = measure_ours(args.n, args.difficulty, args.seed)
        result["ours"] = summarise(records)
        result["ours_images_per_second"] = round(args.n / seconds, 1)
    if args.original:
        records, seconds, redraws = measure_original(args.original, args.n, args.difficulty, args.seed)
        result["original"] = summarise(records)
        result["original_images_per_second"] = round(args.n / seconds, 2)
        result["original_target_redraws_per_image"] = {"mean": round(float(np.mean(redraws)), 1),
                                                       "median": float(np.median(redraws))}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
