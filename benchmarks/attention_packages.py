"""Our attention layers beside the best-known PyTorch package for each mechanism, on the same shapes.

    pip install -e ".[compare]"      # performer-pytorch, linformer, local-attention, reformer-pytorch, ...
    python benchmarks/attention_packages.py --out docs/bench/cpu-attention-packages

One attention layer (projections and core), batch 8, 4 heads x 64, float32, forward+backward, each
(layer, length) in its own process as in attention_layer.py, with naive attention and SDPA as baselines.
Pairs use matched settings (benchmarks/third_party.py). A package that does not import is left out and
said so; none of them is needed by lra itself.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
from pathlib import Path

from lra.bench import BASELINES, Spec, run_sweep
from lra.report import bench_table

THIRD_PARTY = Path(__file__).resolve().with_name("third_party.py")


def main() -> None:
    import sys

    sys.path.insert(0, str(THIRD_PARTY.parent))
    from third_party import PAIRS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", default="all", help=f"comma list of {', '.join(PAIRS)}")
    parser.add_argument("--lengths", default="1024,2048,4096,8192")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    chosen = list(PAIRS) if args.packages == "all" else args.packages.split(",")
    unknown = [p for p in chosen if p not in PAIRS]
    if unknown:
        parser.error(f"unknown package {unknown[0]!r}: expected one of {', '.join(PAIRS)}")
    missing = [p for p in chosen if importlib.util.find_spec(PAIRS[p][1]) is None]
    lengths = [int(n) for n in args.lengths.split(",")]
    common = dict(batch_size=args.batch_size, device=args.device, mode="attention", repeats=args.repeats)
    specs = [Spec(model=m, length=n, **common) for m in BASELINES for n in lengths]
    for package in chosen:
        if package in missing:
            continue
        builder, _, ours, options = PAIRS[package]
        specs += [Spec(model=ours, length=n, options=options, **common) for n in lengths]
        specs += [Spec(model=package, length=n, factory=f"{THIRD_PARTY}:{builder.__name__}", **common)
                  for n in lengths]
    settings = "; ".join(f"{PAIRS[p][2]} and {p} {importlib.metadata.version(p)}: {PAIRS[p][3]}"
                         for p in chosen if p not in missing)
    note = (f"One attention layer (q/k/v/o projections and the core), 4 heads x 64; each of our mechanisms "
            f"beside its package, with matched settings ({settings}).")
    if missing:
        note += f" Not installed, left out: {', '.join(missing)}."
    sweep = run_sweep([s.model for s in specs], lengths, batch_size=args.batch_size, device=args.device,
                      mode="attention", repeats=args.repeats, timeout_s=args.timeout, out=args.out, note=note,
                      specs=specs)
    print(bench_table(sweep))


if __name__ == "__main__":
    main()
