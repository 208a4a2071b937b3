"""One attention layer alone: forward, backward and both, and peak memory, for every registered mechanism.

    python benchmarks/attention_layer.py --out docs/bench/cpu-attention

The shapes of the zoo issue: batch 8, 4 heads of 64 dimensions, L = 1K, 2K, 4K, 8K, float32; each
(mechanism, length) in its own process, against naive attention (`reference`) and SDPA (`transformer`).
It is `lra bench --mode attention` with these defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lra.attention import mechanism_names
from lra.bench import BASELINES, run_sweep
from lra.report import bench_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all")
    parser.add_argument("--lengths", default="1024,2048,4096,8192")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    names = mechanism_names() if args.models == "all" else args.models.split(",")
    names = list(dict.fromkeys([*BASELINES, *names]))
    sweep = run_sweep(names, [int(n) for n in args.lengths.split(",")], batch_size=args.batch_size,
                      device=args.device, mode="attention", repeats=args.repeats, timeout_s=args.timeout,
                      out=args.out, note="One attention layer (q/k/v/o projections and the core), 4 heads x 64.")
    print(bench_table(sweep))


if __name__ == "__main__":
    main()
