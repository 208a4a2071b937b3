"""Reports read result files and write Markdown, CSV and PNG; nothing is copied by hand.

The measuring modules (lra.trainer, lra.bench) write raw results only; rendering is here. The paper's own
numbers, printed beside ours, come from lra/presets/paper_figures.py.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from lra.bench import baselines, run_sweep
from lra.curves import find_run_dirs, plot_curves, save_figure
from lra.errors import LraError
from lra.presets.paper_figures import (
    PAPER_TABLE1,
    PAPER_TABLE1_TASKS,
    PAPER_TABLE2,
    PAPER_TABLE2_LENGTHS,
    PAPER_TABLE2_SETTING,
)
from lra.safe_io import atomic_write_text, read_json


def _csv_text(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _baselines(sweep: dict) -> list[str]:
    """The baselines a sweep was measured against (recorded since the registry names them; older sweeps: the
    registry's)."""
    return sweep.get("baselines") or baselines()


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
        (f"Training steps on the {sweep['task']} config" if sweep["mode"] == "train" else "One attention layer")
        + f", batch {sweep['batch_size']}, {env['dtype']}, {device}, torch {env['torch']}; median of "
        f"{sweep['repeats']} after {sweep['warmup']} warm-up; sweep took {sweep['sweep_time_s']:.0f} s.",
        *([sweep["note"]] if sweep.get("note") else []),
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
            for base in _baselines(sweep):
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
    lengths = PAPER_TABLE2_LENGTHS
    lines = [f"The paper's Table 2 ({PAPER_TABLE2_SETTING}), as printed:", "",
             "| model | " + " | ".join(f"steps/s {n}" for n in lengths) + " | "
             + " | ".join(f"peak GB {n}" for n in lengths) + " |", "|---|" + "---|" * (2 * len(lengths))]
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
            style = "--" if model in _baselines(sweep) else "-"
            ax_speed.plot([n for n, _ in ok], [1 / _seconds(r) for _, r in ok], style, marker="o", label=model)
            ax_mem.plot([n for n, _ in ok], [r["peak_memory_mb"] for _, r in ok], style, marker="o", label=model)
    ax_speed.set(xlabel="sequence length", ylabel="steps/s", yscale="log", title="speed")
    ax_mem.set(xlabel="sequence length", ylabel="peak memory (MB)", yscale="log", title="memory")
    ax_mem.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def write_bench(sweep: dict, out: Path) -> None:
    """Render a sweep beside its results.json (which lra.bench writes): results.csv, bench.png, table.md."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in sweep["results"]:
        times = r["times_s"].get("step") or r["times_s"].get("both") or {}
        rows.append([r["spec"]["model"], r["spec"]["length"], r["spec"]["batch_size"], r["spec"]["mode"],
                     r["status"], times.get("median"), times.get("min"), times.get("max"),
                     r["peak_memory_mb"], r["tokens_per_s"], r["flops_per_step"], r["error"]])
    atomic_write_text(out / "results.csv", _csv_text(
        ["model", "length", "batch_size", "mode", "status", "seconds_median", "seconds_min", "seconds_max",
         "peak_memory_mb", "tokens_per_s", "flops_per_step", "error"], rows))
    plotted = plot_bench(sweep, out / "bench.png")
    parts = [bench_table(sweep), "", flops_table(sweep), "", paper_table2()]
    if not plotted:
        parts.append("\n(no plot: install the `plot` extra, `pip install -e .[plot]`, for bench.png)")
    atomic_write_text(out / "table.md", "\n".join(parts) + "\n")


def sweep_and_write(models: list[str], lengths: list[int], *, out: Path | None = None, **options) -> dict:
    """lra.bench.run_sweep (which writes out/results.json), then with `out` the files write_bench renders."""
    sweep = run_sweep(models, lengths, out=out, **options)
    if out is not None:
        write_bench(sweep, Path(out))
    return sweep


# ---------------------------------------------------------------- Table 1: accuracy and the LRA score

TASK_ORDER = PAPER_TABLE1_TASKS  # the paper's columns
SCORED_TASKS = TASK_ORDER[:5]  # the LRA score leaves Path-X out


RUN_FIELDS = ("task", "model", "preset", "test_acc", "test_acc_last", "steps")


def find_runs(root: Path) -> list[dict]:
    """results.json of every finished run under root (a run directory has config.json beside it)."""
    runs = []
    for path in sorted(Path(root).rglob("results.json")):
        if (path.parent / "config.json").exists():
            result = read_json(path, "a run's results")
            missing = [key for key in RUN_FIELDS if key not in result]
            if missing:
                raise LraError(f"{path}: not a finished run's results (missing {', '.join(missing)})")
            runs.append(result)
    return runs


CHECKPOINTS = {"last": "test_acc_last", "best": "test_acc"}


def run_accuracy(result: dict, checkpoint: str = "last") -> float:
    """Test accuracy of the last parameters (LRA's protocol: every released train script tests the final
    state) or, with checkpoint="best", of the best-validation checkpoint."""
    return result[CHECKPOINTS[checkpoint]]


def _chance(result: dict) -> float:
    return max(result.get("test_majority_acc", 0.0), 0.5 if result["task"] in ("pathfinder", "pathx") else 0.0)


def at_chance(result: dict, accuracy: float) -> bool:
    """Not above chance: within two binomial standard errors of the chance level at the test set's size.

    A model that predicts one class scores the majority exactly, but a few lucky predictions on 1,000 examples
    lift it by half a point; without the margin such a run would read as learned. Results without
    `test_examples` (older runs) compare against chance itself.
    """
    chance = _chance(result)
    examples = result.get("test_examples") or 0
    margin = 2 * math.sqrt(chance * (1 - chance) / examples) if examples else 0.0
    return accuracy <= chance + margin


def accuracy_table(runs: list[dict], checkpoint: str = "last") -> tuple[list[str], dict[str, dict[str, str]],
                                                                       dict[str, dict]]:
    """Rows per model: cell text per task, and the scores. A cell not above chance reads FAIL."""
    cells: dict[str, dict[str, str]] = {}
    scores: dict[str, dict] = {}
    tasks = [t for t in TASK_ORDER if any(r["task"] == t for r in runs)] or list(TASK_ORDER[:1])
    for model in dict.fromkeys(r["model"] for r in runs):
        row, values = {}, {}
        for r in runs:
            if r["model"] != model:
                continue
            acc = run_accuracy(r, checkpoint)
            failed = at_chance(r, acc)
            values[r["task"]] = (acc, failed)
            row[r["task"]] = "FAIL" if failed else f"{100 * acc:.2f}"
        five = [100 * values[t][0] for t in SCORED_TASKS if t in values]
        six = [50.0 if values[t][1] else 100 * values[t][0] for t in TASK_ORDER if t in values]
        scores[model] = {
            "lra_score": sum(five) / 5 if len(five) == 5 else None,
            "partial_mean": sum(five) / len(five) if five else None,
            "six_task": sum(six) / 6 if len(six) == 6 else None,
        }
        cells[model] = row
    return tasks, cells, scores


def table1_markdown(runs: list[dict]) -> str:
    lines = ["Test accuracy (%) of the last parameters, as LRA tested (every released train script evaluates "
             "the final state). LRA score = mean of ListOps, Text, Retrieval, Image, Pathfinder (Path-X apart); "
             "FAIL = not above chance (the majority class of the test split, and 50% on Pathfinder/Path-X) by more "
             "than two binomial standard errors at the test set's size. "
             "Six-task = mean of all six with FAIL counted as 50 (a later convention, labelled as such). "
             "A score over fewer tasks is marked partial.", "",
             *_score_table(runs, "last", paper_column=True), "",
             "The same runs tested at their best-validation checkpoint (not LRA's protocol; on Text, whose "
             "validation split is the test split as in LRA, this selects on test data):", "",
             *_score_table(runs, "best", paper_column=False)]
    lines += ["", "The paper's Table 1, for comparison:", "",
              "| model | " + " | ".join(TASK_ORDER) + " | LRA score |", "|---|" + "---|" * 7]
    for model, values in PAPER_TABLE1.items():
        lines.append(f"| {model} | " + " | ".join("FAIL" if v is None else f"{v:.2f}" for v in values)
                     + f" | {sum(values[:5]) / 5:.2f} |")
    return "\n".join(lines)


def _score_table(runs: list[dict], checkpoint: str, paper_column: bool) -> list[str]:
    tasks, cells, scores = accuracy_table(runs, checkpoint)
    lines = ["| model | " + " | ".join(tasks) + " | LRA score | six-task (FAIL=50) |"
             + (" paper LRA score |" if paper_column else ""),
             "|---|" + "---|" * (len(tasks) + 2 + paper_column)]
    for model, row in cells.items():
        s = scores[model]
        score = (f"{s['lra_score']:.2f}" if s["lra_score"] is not None
                 else f"{s['partial_mean']:.2f} (partial)" if s["partial_mean"] is not None else "—")
        six = f"{s['six_task']:.2f}" if s["six_task"] is not None else "—"
        line = f"| {model} | " + " | ".join(row.get(t, "—") for t in tasks) + f" | {score} | {six} |"
        if paper_column:
            paper = PAPER_TABLE1.get(model)
            line += f" {sum(paper[:5]) / 5:.2f} |" if paper else " — |"
        lines.append(line)
    return lines


def bubble_plot(runs: list[dict], sweep: dict | None, path: Path) -> bool:
    """The paper's Figure 3: speed (x) against LRA score (y), bubble area = memory; needs bench results."""
    if sweep is None:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    _, _, scores = accuracy_table(runs)
    longest = max(sweep["lengths"])
    fig, ax = plt.subplots(figsize=(7, 5))
    for model, s in scores.items():
        score = s["lra_score"] if s["lra_score"] is not None else s["partial_mean"]
        r = _cell(sweep["results"], model, longest)
        if score is None or _seconds(r) is None:
            continue
        ax.scatter(1 / _seconds(r), score, s=max(r["peak_memory_mb"], 1.0) / 4, alpha=0.5)
        ax.annotate(model, (1 / _seconds(r), score), fontsize=8, ha="center")
    ax.set(xlabel=f"steps/s at length {longest}", ylabel="LRA score (partial where marked in table1.md)",
           title="speed, accuracy and memory (bubble area = peak memory)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def _curves(root: Path, path: Path) -> bool:
    try:
        plot_curves(find_run_dirs(root), path, title="validation accuracy of every run")
    except LraError:  # matplotlib missing: the tables stand alone
        return False
    return True


def cost_markdown(runs: list[dict]) -> str:
    """Training time, energy (measured or estimated, lra/cost.py) and an estimated price per run, and totals."""
    lines = ["| task | model | device | train time | energy (Wh) | how | device-hours | est. cost (USD) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["cost"]
        how = "measured" if str(c.get("energy_source", "")).startswith("measured") else "estimated"
        lines.append(f"| {r['task']} | {r['model']} | {c.get('device')} | {r.get('train_time_s', 0):.0f} s | "
                     f"{c.get('energy_wh', 0):.3g} | {how} | {c.get('device_hours', 0):.3g} | "
                     f"{c.get('cost_usd', 0):.3g} |")
    total_wh = sum(r["cost"].get("energy_wh", 0) for r in runs)
    total_usd = sum(r["cost"].get("cost_usd", 0) for r in runs)
    lines += ["", f"Total: {total_wh:.3g} Wh, about {total_usd:.3g} USD. Estimates are training time x the device's "
              "power and price from lra/cost.py's table (its docstring gives the method)."]
    return "\n".join(lines)


def write_report(root: Path, out: Path | None = None) -> Path:
    """Table 1 (Markdown, CSV), Table 2 from any bench results under root, and the bubble plot."""
    root = Path(root)
    out = Path(out or root)
    out.mkdir(parents=True, exist_ok=True)
    runs = find_runs(root)
    sweeps = [read_json(p, "bench results") for p in sorted(root.rglob("results.json"))
              if not (p.parent / "config.json").exists() and '"lengths"' in p.read_text(errors="replace")[:100000]]
    sweep = sweeps[-1] if sweeps else None
    parts = ["# LRA report", "", f"{len(runs)} runs under {root}.", "", "## Table 1: accuracy", "",
             table1_markdown(runs) if runs else "(no finished runs)"]
    atomic_write_text(out / "table1.csv", _csv_text(
        ["task", "model", "preset", "test_acc_best_val", "test_acc_last", "reported (last, LRA)", "majority",
         "steps", "train_time_s", "energy_wh", "energy_source", "cost_usd"],
        [[r["task"], r["model"], r["preset"], r["test_acc"], r["test_acc_last"], run_accuracy(r),
          r.get("test_majority_acc"), r["steps"], r.get("train_time_s"), r.get("cost", {}).get("energy_wh"),
          r.get("cost", {}).get("energy_source"), r.get("cost", {}).get("cost_usd")] for r in runs]))
    costed = [r for r in runs if isinstance(r.get("cost"), dict)]
    if costed:
        parts += ["", "## Cost", "", cost_markdown(costed)]
    if sweep is not None:
        parts += ["", "## Table 2: efficiency", "", bench_table(sweep)]
    if bubble_plot(runs, sweep, out / "figure3.png"):
        parts += ["", "![speed, accuracy, memory](figure3.png)"]
    if runs and _curves(root, out / "curves.png"):
        parts += ["", "## Learning curves", "", "![validation accuracy against steps and wall time](curves.png)"]
    atomic_write_text(out / "report.md", "\n".join(parts) + "\n")
    return out / "report.md"
