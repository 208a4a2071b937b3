"""Data for `lra suite --preset tiny` over all six tasks on a machine that cannot download anything.

    python benchmarks/suite_data.py --out /tmp/lra-tiny
    cd /tmp/lra-tiny && lra suite --tasks all --models all --preset tiny --out runs/tiny-suite

Each task's data goes where the tiny preset looks for it, relative to --out: the preset's own
`data.data_dir` (data/listops-tiny, data/pathfinder-tiny, data/pathx-tiny) or data/<task>.

ListOps, Pathfinder and Path-X are generated with the tiny presets' own settings; Text, Retrieval and
Image are synthetic stand-ins in the official raw formats (lra/data/fixtures.py), prepared by the same
code as the real downloads. Their accuracies show that the pipeline trains, not the benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lra.config import RunConfig
from lra.data import fixtures, listops, pathfinder
from lra.data.tasks import prepare_task
from lra.presets import resolve_config

DEFAULT_MODEL = RunConfig().model.attention  # any model: only the data settings are read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    root, raw = args.out, args.out / "raw"

    def target(task: str) -> Path:
        return root / (resolve_config(task, DEFAULT_MODEL, "tiny").data.data_dir or f"data/{task}")

    listops.write_listops(target("listops"), **resolve_config("listops", DEFAULT_MODEL, "tiny").data.generate)
    for task in ("pathfinder", "pathx"):
        settings = dict(resolve_config(task, DEFAULT_MODEL, "tiny").data.generate)
        pathfinder.generate(target(task), settings.pop("resolution"), settings.pop("difficulty"), **settings)
    prepare_task("text", fixtures.write_imdb(raw / "imdb", per_class=400, words=120), target("text"))
    prepare_task("retrieval", fixtures.write_aan(raw / "aan", rows=600, max_words=120), target("retrieval"))
    prepare_task("image", fixtures.write_cifar(raw / "cifar", per_batch=400), target("image"))
    print(f"data for all six tasks under {root}")


if __name__ == "__main__":
    main()
