"""Image statistics of our Pathfinder generator beside the original's (drewlinsley/pathfinder), for docs/tasks.md.

    python benchmarks/pathfinder_stats.py --n 300 --out docs/pathfinder_stats.json

The original's figures (`ORIGINAL`, mean and standard deviation over images) come from one run of the original
generator, with its wrapper's settings and LRA's 32x32 parameters, measured by these same functions; that run's
code is not part of this repository.

Per image: mean intensity (0..255), fraction of non-zero pixels, pixels at 255, distractor snakes placed,
share of the ink (the summed intensity of pixels above 32) in the outer 2-pixel ring; over all target
paths: the gap between consecutive paddles (nearest ends, in pixels); over all images: the 90th percentile
of the brightness of ink pixels drawn by the target paths only versus by distractors only (no marker).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

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


# The original generator's figures on the same measures: 300 hard 32x32 images of drewlinsley/pathfinder run
# once with its wrapper's settings and LRA's 32x32 parameters (a scratch run; its code is not part of lra).
ORIGINAL = {  # the keys of `summarise`
    "mean": (20.4, 2.2), "nonzero": (0.345, 0.040), "saturated": (2.22, 1.32), "distractors": (1.26, 0.98),
    "ring_ink": (0.016, 0.016), "gap": (1.77, 0.64), "target_p90": (176, 14), "distractor_p90": (227, 15),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result: dict = {"n_images": args.n, "resolution": 32, "difficulty": args.difficulty, "seed": args.seed}
    records, seconds = measure_ours(args.n, args.difficulty, args.seed)
    result["ours"] = summarise(records)
    result["ours_images_per_second"] = round(args.n / seconds, 1)
    result["original"] = {name: {"mean": mean, "std": std} for name, (mean, std) in ORIGINAL.items()}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
