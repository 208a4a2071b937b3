"""One process against 2 processes under each train.parallel mode (data, tensor, fsdp), on the tiny ListOps
preset: test accuracy, steps/s and each process's peak memory, from the runs' results.json.

    python benchmarks/parallel.py --out docs/parallel_bench.md [--set model.emb_dim=512 ...] [--steps N]

Run it on an otherwise idle machine: the processes share its cores (torchrun gives each one thread; the single
process gets `--threads`, by default as many as the processes together). On CPU, glibc keeps freed buffers
of a few MB in the heap, which hides FSDP's saving in the peak resident set; MALLOC_MMAP_THRESHOLD_=131072 in
the environment returns them, and the table's header records it when set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(out: Path, processes: int, parallel: str, sets: list[str], threads: int) -> dict:
    base = ["-m", "lra", "train", "--task", "listops", "--preset", "tiny", "--out", str(out), "--quiet"]
    overrides = [*sets, f"train.parallel={parallel}", f"train.threads={threads if processes == 1 else 1}"]
    args = [arg for item in overrides for arg in ("--set", item)]
    if processes == 1:
        command = [sys.executable, *base, *args]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
                   "--master-port", "29561", *base, *args]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="markdown table; the raw records go beside it (.json)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="a config override (repeatable)")
    parser.add_argument("--steps", type=int, default=0, help="train.steps (0: the preset's)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="threads of the single process (0: --processes)")
    args = parser.parse_args()
    sets = [*args.sets, *([f"train.steps={args.steps}"] if args.steps else [])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for processes, parallel in [(1, "data"), (args.processes, "data"), (args.processes, "tensor"),
                                    (args.processes, "fsdp")]:
            name = "one process" if processes == 1 else f"{processes} processes, {parallel}"
            r = run(Path(tmp) / f"{processes}-{parallel}", processes, parallel, sets, args.threads or args.processes)
            kept = ("test_acc_last", "steps_per_s", "peak_memory_mb", "parameters", "steps", "environment")
            rows.append({"setting": name, "processes": processes, "parallel": parallel, **{k: r[k] for k in kept}})
    env = rows[0]["environment"]
    lines = [f"tiny ListOps transformer, overrides {' '.join(sets) or '(none)'}; {env.get('device')}, torch "
             f"{env.get('torch')}; peak memory is each process's peak resident set (weights, optimizer, "
             "activations, data and the runtime)"
             + (f"; MALLOC_MMAP_THRESHOLD_={os.environ['MALLOC_MMAP_THRESHOLD_']}."
                if "MALLOC_MMAP_THRESHOLD_" in os.environ else "."), "",
             "| setting | test acc (last) | steps/s | peak MB per process | parameters |", "|---|---|---|---|---|"]
    for row in rows:
        peaks = " / ".join(f"{m:.0f}" for m in row["peak_memory_mb"])
        lines.append(f"| {row['setting']} | {100 * row['test_acc_last']:.1f} | {row['steps_per_s']:.2f} | {peaks} | "
                     f"{row['parameters']:,} |")
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
