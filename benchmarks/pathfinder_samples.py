"""A grid of generated Pathfinder samples, connected (label 1) and not (label 0), for docs/.

    python benchmarks/pathfinder_samples.py --resolution 32 --out docs/pathfinder_samples.png
    python benchmarks/pathfinder_samples.py --resolution 128 --out docs/pathx_samples.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lra.data.pathfinder_gen import lra_params, render


def grid(resolution: int, difficulty: str, per_row: int, seed: int, zoom: int) -> Image.Image:
    params = lra_params(resolution, difficulty)
    rng = np.random.default_rng(seed)
    cell, label_width = resolution * zoom + 4, 150
    canvas = Image.new("L", (label_width + per_row * cell, 2 * cell + 24), color=40)
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), f"pathfinder{resolution} {difficulty} (LRA parameters), seed {seed}", fill=255)
    for row, label in enumerate((1, 0)):
        top = 24 + row * cell
        draw.text((4, top + cell // 2 - 10), "label 1: connected" if label else "label 0: not connected", fill=255)
        for col in range(per_row):
            image, _, _ = render(params, rng, label=label)
            tile = Image.fromarray(image).resize((resolution * zoom,) * 2, Image.NEAREST)
            canvas.paste(tile, (label_width + col * cell + 2, top + 2))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--per-row", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    zoom = max(1, 128 // args.resolution)
    grid(args.resolution, args.difficulty, args.per_row, args.seed, zoom).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
