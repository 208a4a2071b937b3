"""Learning curves: validation accuracy against steps and against wall time, several runs in one PNG.

Reads each run's metrics.jsonl (one line per evaluation); a torn last line of a killed run is skipped.
"""

from __future__ import annotations

from pathlib import Path

from lra.errors import LraError
from lra.safe_io import atomic_write, read_json, read_jsonl


def save_figure(fig, path: Path) -> None:
    """A matplotlib figure as a PNG, written atomically (lra.report's figures too)."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The evaluations logged by a run, in order; lines that do not parse (a kill in mid-write) are skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise LraError(f"{run_dir} has no metrics.jsonl (not a run directory, or no evaluation yet)")
    return [record for record in read_jsonl(path) if {"step", "val_acc"} <= record.keys()]


def _run_config(run_dir: Path) -> dict:
    path = run_dir / "config.json"
    return read_json(path, "a run configuration") if path.is_file() else {}


def run_label(run_dir: Path) -> str:
    config = _run_config(run_dir)
    model = config.get("model", {}).get("attention") if isinstance(config.get("model"), dict) else None
    return f"{config.get('task', '?')}/{model or '?'} ({run_dir.name})"


def _model_label(run_dir: Path, config: dict) -> str:
    model = config.get("model", {}).get("attention") if isinstance(config.get("model"), dict) else None
    return model if model and model in run_dir.name else f"{model or '?'} ({run_dir.name})"


def plot_curves(run_dirs: list[str | Path], path: str | Path, title: str = "validation accuracy") -> Path:
    """Accuracy against steps and against elapsed seconds, one row of two panels per task, one line per run.

    A row per task because tasks differ in chance level and step count: on shared axes a 24-run suite is unreadable.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LraError("plotting needs matplotlib: pip install -e .[plot]") from None
    if not run_dirs:
        raise LraError("no runs to plot")
    by_task: dict[str, list[tuple[Path, dict, list[dict]]]] = {}
    for run in map(Path, run_dirs):
        records = read_metrics(run)
        if records:
            config = _run_config(run)
            by_task.setdefault(str(config.get("task", "?")), []).append((run, config, records))
    if not by_task:
        raise LraError(f"none of the {len(run_dirs)} runs has an evaluation in its metrics.jsonl yet")
    fig, axes = plt.subplots(len(by_task), 2, figsize=(12, 3.2 * len(by_task)), squeeze=False)
    for row, (task, runs) in zip(axes, sorted(by_task.items())):
        by_step, by_time = row
        for run, config, records in runs:
            accuracy = [100 * r["val_acc"] for r in records]
            line, = by_step.plot([r["step"] for r in records], accuracy, marker=".")
            by_time.plot([r.get("elapsed_s", 0.0) for r in records], accuracy, marker=".", color=line.get_color(),
                         label=_model_label(run, config))
        by_step.set(xlabel="step", ylabel=f"{task}: val accuracy (%)")
        by_time.set(xlabel="wall time (s)")
        by_time.sharey(by_step)
        by_time.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    axes[0][0].set_title(title)
    axes[0][1].set_title("against wall time")
    fig.tight_layout()
    save_figure(fig, Path(path))
    plt.close(fig)
    return Path(path)


def find_run_dirs(root: str | Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("metrics.jsonl") if (p.parent / "config.json").is_file())
