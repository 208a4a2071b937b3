"""Memory and speed of the survey's general techniques, measured with lra.bench on one config.

    python benchmarks/techniques.py --task text --length 2048 --batch-size 2 --out docs/techniques_bench.md

Each row is one full training step of the paper config with one technique switched on (bf16 is an
autocast dtype rather than a config flag), measured in its own process like `lra bench`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from lra.bench import Spec, environment, run_one

TECHNIQUES = {
    "baseline (float32)": ([], "float32"),
    "gradient checkpointing per block": (["model.checkpoint_blocks=true"], "float32"),
    "reversible blocks": (["model.reversible=true"], "float32"),
    "parameter sharing across layers": (["model.share_layers=true"], "float32"),
    "switch MoE feed-forward, 4 experts": (["model.moe_experts=4"], "float32"),
    "bf16 autocast": ([], "bfloat16"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="text")
    parser.add_argument("--model", default="transformer")
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the Markdown table (and a .json beside it) here")
    args = parser.parse_args()

    rows, raw = [], {}
    for name, (overrides, dtype) in TECHNIQUES.items():
        spec = Spec(model=args.model, length=args.length, task=args.task, batch_size=args.batch_size,
                    device=args.device, dtype=dtype, repeats=args.repeats, overrides=overrides)
        result = run_one(spec, timeout_s=1200)
        raw[name] = asdict(result)
        if result.status != "ok":
            rows.append((name, result.status.upper(), "", "", ""))
            continue
        seconds = result.times_s["step"]["median"]
        rows.append((name, f"{1 / seconds:.3f}", f"{result.peak_memory_mb:.0f}", f"{result.parameters:,}",
                     " ".join(overrides) or f"--dtype {dtype}"))
    base_speed, base_mem = float(rows[0][1]), float(rows[0][2])
    env = environment(args.device, "float32", 0)
    lines = [f"{args.model} on the {args.task} paper config, length {args.length}, batch {args.batch_size}, "
             f"{args.device} ({env['cpu']}, {env['threads']} threads), torch {env['torch']}; median of "
             f"{args.repeats} training steps; peak memory as in `lra bench`.", "",
             "| technique | steps/s | vs baseline | peak MB | vs baseline | parameters | setting |",
             "|---|---|---|---|---|---|---|"]
    for name, speed, mem, params, setting in rows:
        if mem:
            lines.append(f"| {name} | {speed} | {float(speed) / base_speed:.2f}x | {mem} | "
                         f"{float(mem) / base_mem:.2f}x | {params} | `{setting}` |")
        else:
            lines.append(f"| {name} | {speed} | | | | | |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
        args.out.with_suffix(".json").write_text(json.dumps({"environment": env, "results": raw}, indent=2))


if __name__ == "__main__":
    main()
