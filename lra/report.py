"""Reports read result files and write Markdown, CSV and PNG; nothing is copied by hand."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lra.bench import BASELINES, PAPER_TABLE2


def _cell(results: list[dict], model: str, length: int) -> dict | None:
    for r in results:
        if r["spec"]["model"] == model and r["spec"]["length"] == length:
            return r
    return None


def _seconds(r: dict | None) -> float | None:
    if r is None or r["status"] != "ok":
        return None
    phase = "step" if "step" in r["times_s"] else "both"
    return r["times_s"][phase]["median"]


def bench_table(sweep: dict) -> str:
    """Table 2 layout: steps/s and peak memory per length, each with its ratio to naive attention and SDPA."""
    results, lengths = sweep["results"], sweep["lengths"]
    env = sweep["environment"]
    unit = "steps/s" if sweep["mode"] == "train" else "layer fwd+bwd/s"
    device = env.get("device_name") or f"{env['cpu']} CPU, {env['threads']} threads"
    lines = [
        f"{'Training steps' if sweep['mode'] == 'train' else 'One attention layer'} on the {sweep['task']} "
        f"config, batch {sweep['batch_size']}, {env['dtype']}, {device}, torch {env['torch']}; median of "
        f"{sweep['repeats']} after {sweep['warmup']} warm-up; sweep took {sweep['sweep_time_s']:.0f} s.",
        "Ratios in parentheses: speed and memory relative to naive attention (`reference`, as in the paper) "
        "/ to SDPA (`transformer`).",
        "",
        "| model | " + " | ".join(f"{unit} {n}" for n in lengths) + " | "
        + " | ".join(f"peak MB {n}" for n in lengths) + " |",
        "|---|" + "---|" * (2 * len(lengths)),
    ]
    models = list(dict.fromkeys(r["spec"]["model"] for r in results))
    for model in models:
        speed, memory = [], []
        for n in lengths:
            r = _cell(results, model, n)
            seconds = _seconds(r)
            if seconds is None:
                status = r["status"].upper() if r else "—"
                speed.append(status)
                memory.append(status)
                continue
            ratios_s, ratios_m = [], []
            for base in BASELINES:
                b = _cell(results, base, n)
                bs = _seconds(b)
                ratios_s.append(f"{bs / seconds:.2f}x" if bs else "–")
                ratios_m.append(f"{r['peak_memory_mb'] / b['peak_memory_mb']:.2f}x"
                                if bs and b["peak_memory_mb"] else "–")
            speed.append(f"{1 / seconds:.3g} ({' / '.join(ratios_s)})")
            memory.append(f"{r['peak_memory_mb']:.0f} ({' / '.join(ratios_m)})")
        lines.append(f"| {model} | " + " | ".join(speed) + " | " + " | ".join(memory) + " |")
    return "\n".join(lines)


def flops_table(sweep: dict) -> str:
    peak = sweep["environment"]["matmul_peak_flops"]
    lines = [f"FLOPs per step counted by torch.utils.flop_counter (matmul, SDPA, convolution; elementwise work not "
             f"counted); achieved FLOP/s as a fraction of a {peak / 1e9:.0f} GFLOP/s matmul measured in the same run.",
             "", "| model | length | GFLOP/step | achieved GFLOP/s | fraction of matmul peak | tokens/s |",
             "|---|---|---|---|---|---|"]
    for r in sweep["results"]:
        seconds = _seconds(r)
        if seconds is None or not r.get("flops_per_step"):
            continue
        achieved = r["flops_per_step"] / seconds
        lines.append(f"| {r['spec']['model']} | {r['spec']['length']} | {r['flops_per_step'] / 1e9:.1f} | "
                     f"{achieved / 1e9:.1f} | {achieved / peak:.2f} | {r['tokens_per_s']:.0f} |")
    return "\n".join(lines)


def paper_table2() -> str:
    lengths = ["1K", "2K", "3K", "4K"]
    lines = ["The paper's Table 2 (TPU v3 4x4, batch 32, text task), as printed:", "",
             "| model | " + " | ".join(f"steps/s {n}" for n in lengths) + " | "
             + " | ".join(f"peak GB {n}" for n in lengths) + " |", "|---|" + "---|" * 8]
    for model, (speed, memory) in PAPER_TABLE2.items():
        lines.append(f"| {model} | " + " | ".join(map(str, speed)) + " | " + " | ".join(map(str, memory)) + " |")
    return "\n".join(lines)


def plot_bench(sweep: dict, path: Path) -> bool:
    """steps/s and peak memory against length, one line per model. False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_speed, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    for model in dict.fromkeys(r["spec"]["model"] for r in sweep["results"]):
        points = [(n, _cell(sweep["results"], model, n)) for n in sweep["lengths"]]
        ok = [(n, r) for n, r in points if _seconds(r) is not None]
        if ok:
            style = "--" if model in BASELINES else "-"
            ax_speed.plot([n for n, _ in ok], [1 / _seconds(r) for _, r in ok], style, marker="o", label=model)
            ax_mem.plot([n for n, _ in ok], [r["peak_memory_mb"] for _, r in ok], style, marker="o", label=model)
    ax_speed.set(xlabel="sequence length", ylabel="steps/s", yscale="log", title="speed")
    ax_mem.set(xlabel="sequence length", ylabel="peak memory (MB)", yscale="log", title="memory")
    ax_mem.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_bench(sweep: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(sweep, indent=2))
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "length", "batch_size", "mode", "status", "seconds_median", "seconds_min",
                         "seconds_max", "peak_memory_mb", "tokens_per_s", "flops_per_step", "error"])
        for r in sweep["results"]:
            times = r["times_s"].get("step") or r["times_s"].get("both") or {}
            writer.writerow([r["spec"]["model"], r["spec"]["length"], r["spec"]["batch_size"], r["spec"]["mode"],
                             r["status"], times.get("median"), times.get("min"), times.get("max"),
                             r["peak_memory_mb"], r["tokens_per_s"], r["flops_per_step"], r["error"]])
    plotted = plot_bench(sweep, out / "bench.png")
    parts = [bench_table(sweep), "", flops_table(sweep), "", paper_table2()]
    if not plotted:
        parts.append("\n(no plot: install the `plot` extra, `pip install -e .[plot]`, for bench.png)")
    (out / "table.md").write_text("\n".join(parts) + "\n")
