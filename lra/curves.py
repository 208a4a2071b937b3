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


def run_label(run_dir: Path) -> str:
    config = read_json(run_dir / "config.json", "a run configuration") if (run_dir / "config.json").is_file() else {}
    model = config.get("model", {}).get("attention") if isinstance(config.get("model"), dict) else None
    return f"{config.get('task', '?')}/{model or '?'} ({run_dir.name})"


def plot_curves(run_dirs: list[str | Path], path: str | Path, title: str = "validation accuracy") -> Path:
    """Two panels, accuracy against steps and against elapsed seconds, one line per run."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LraError("plotting needs matplotlib: pip install -e .[plot]") from None
    if not run_dirs:
        raise LraError("no runs to plot")
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for run in map(Path, run_dirs):
        records = read_metrics(run)
        if not records:
            continue
        label = run_label(run)
        steps = [r["step"] for r in records]
        accuracy = [100 * r["val_acc"] for r in records]
        by_step.plot(steps, accuracy, marker=".", label=label)
        by_time.plot([r.get("elapsed_s", 0.0) for r in records], accuracy, marker=".", label=label)
    by_step.set(xlabel="step", ylabel="validation accuracy (%)", title=title)
    by_time.set(xlabel="wall time (s)", title="against wall time")
    by_step.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, Path(path))
    plt.close(fig)
    return Path(path)


def find_run_dirs(root: str | Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("metrics.jsonl") if (p.parent / "config.json").is_file())
