"""The grid: every (task, model) pair of a preset, resumable, going on past failures, then the report."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from lra.data.cache import atomic_write_bytes
from lra.errors import LraError
from lra.presets import resolve_config
from lra.report import write_report
from lra.train import train


def _save(out: Path, status: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "suite.json", lambda f: f.write(json.dumps(status, indent=2).encode()))


def run_suite(tasks: list[str], models: list[str], preset: str, out: str | Path, *, overrides: list[str] | None = None,
              progress: bool = True, data_dirs: dict[str, str] | None = None) -> dict:
    """Runs each pair under out/runs/<task>-<model>; finished runs are skipped, interrupted ones resumed."""
    out = Path(out)
    previous = out / "suite.json"
    status: dict[str, dict] = json.loads(previous.read_text()) if previous.exists() else {}
    for task in tasks:
        for model in models:
            key = f"{task}-{model}"
            run_dir = out / "runs" / key
            started = time.perf_counter()
            try:
                extra = list(overrides or [])
                if data_dirs and task in data_dirs:
                    extra.append(f"data.data_dir={data_dirs[task]}")
                config = resolve_config(task, model, preset, extra)
                if (run_dir / "results.json").exists():
                    if status.get(key, {}).get("status") not in ("done", "resumed"):  # keep its record
                        status[key] = {"status": "skipped (finished)"}
                    continue
                resume = (run_dir / "config.json").exists()
                results = train(config, run_dir, resume=resume, progress=progress)
                status[key] = {"status": "resumed" if resume else "done", "test_acc": results["test_acc"],
                               "seconds": round(time.perf_counter() - started, 1)}
            except LraError as error:
                status[key] = {"status": "failed", "error": str(error)}
            except Exception as error:  # a crash of one pair must not end the grid: record it and go on
                status[key] = {"status": "failed", "error": f"{type(error).__name__}: {error}",
                               "traceback": traceback.format_exc(limit=5)}
            if progress and status[key]["status"] == "failed":
                print(f"lra suite: {key} failed: {status[key]['error']}")
            _save(out, status)  # after every pair, so a killed suite still says what it did
    _save(out, status)
    write_report(out)
    return status
