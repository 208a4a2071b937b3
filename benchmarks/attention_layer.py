"""One attention layer alone: forward, backward and both, and peak memory, for every registered mechanism,
and beside it the best-known PyTorch package for each mechanism where that package is installed.

    pip install -e ".[compare]"   # optional: performer-pytorch, linformer, local-attention, reformer-pytorch, ...
    python benchmarks/attention_layer.py --out docs/bench/attention-layer-cpu-1k-8k

The shapes of the zoo issue: batch 8, 4 heads of 64 dimensions, L = 1K, 2K, 4K, 8K, float32; each
(layer, length) in its own process, against naive attention (`reference`) and SDPA (`transformer`).
Package layers are built with settings matched to ours (benchmarks/third_party.py); a package that does
not import is left out and the table says so. Without packages it is `lra bench --mode attention`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from lra.attention import mechanism_names
from lra.bench import Spec, baselines
from lra.report import bench_table
from lra.report import sweep_and_write as run_sweep  # lra.bench.run_sweep, then table.md, results.csv, bench.png

THIRD_PARTY = Path(__file__).resolve().with_name("third_party.py")


def main() -> None:
    sys.path.insert(0, str(THIRD_PARTY.parent))
    from third_party import PAIRS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all")
    parser.add_argument("--packages", default="all", help=f"all, none, or a comma list of {', '.join(PAIRS)}")
    parser.add_argument("--lengths", default="1024,2048,4096,8192")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    names = mechanism_names() if args.models == "all" else args.models.split(",")
    names = list(dict.fromkeys([*baselines(), *names]))
    packages = {"all": list(PAIRS), "none": []}.get(args.packages, args.packages.split(","))
    unknown = [p for p in packages if p not in PAIRS]
    if unknown:
        parser.error(f"unknown package {unknown[0]!r}: expected one of {', '.join(PAIRS)}")
    missing = [p for p in packages if importlib.util.find_spec(PAIRS[p][1]) is None]
    installed = [p for p in packages if p not in missing]

    lengths = [int(n) for n in args.lengths.split(",")]
    common = dict(batch_size=args.batch_size, device=args.device, mode="attention", repeats=args.repeats)
    specs = []
    for name in names:
        specs += [Spec(model=name, length=n, **common) for n in lengths]
        for package in installed:
            builder, _, ours, _, ours_matched = PAIRS[package]
            if ours != name:
                continue
            if ours_matched is not None:  # our defaults differ from the settings the package needs
                label, build_ours = ours_matched
                specs += [Spec(model=label, length=n, factory=f"{THIRD_PARTY}:{build_ours.__name__}", **common)
                          for n in lengths]
            label = package if package != name else f"{package} (package)"  # linformer is both
            specs += [Spec(model=label, length=n, factory=f"{THIRD_PARTY}:{builder.__name__}", **common)
                      for n in lengths]
    note = "One attention layer (q/k/v/o projections and the core), 4 heads x 64."
    if installed:
        note += (" Beside our mechanisms, their packages (version, then the options of ours that match it;"
                 " the package's own settings are in benchmarks/third_party.py): "
                 + "; ".join(f"{p} {importlib.metadata.version(p)} ({PAIRS[p][3]})" for p in installed) + ".")
    if missing:
        note += f" Not installed, so not compared: {', '.join(missing)}."
    sweep = run_sweep([s.model for s in specs], lengths, batch_size=args.batch_size, device=args.device,
                      mode="attention", repeats=args.repeats, timeout_s=args.timeout, out=args.out, note=note,
                      specs=specs)
    print(bench_table(sweep))


if __name__ == "__main__":
    main()
