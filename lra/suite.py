"""The grid: every (task, model) pair of a preset, resumable, going on past failures, then the report."""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from lra import runtime
from lra.errors import LraError
from lra.presets import resolve_config
from lra.report import write_report
from lra.safe_io import atomic_write_json, read_json
from lra.trainer import train


def _save(out: Path, status: dict) -> None:
    atomic_write_json(out / "suite.json", status)


def _train_in_child(task: str, model: str, preset: str, overrides: list[str], run_dir: Path, resume: bool,
                    progress: bool) -> dict:
    """Train one pair in its own process, so that running out of memory (the kernel kills the process)
    costs that pair only; returns its results.json."""
    job = {"task": task, "model": model, "preset": preset, "overrides": overrides, "run_dir": str(run_dir),
           "resume": resume, "progress": progress}
    outcome = runtime.run_job("lra.suite", job)
    if outcome.status == "ok":
        return outcome.result
    if outcome.status != "error":
        raise RuntimeError(f"{outcome.status}: {outcome.reason}")
    reason = outcome.reason
    raise (LraError if reason.startswith("lra: ") else RuntimeError)(reason.removeprefix("lra: "))


def run_suite(tasks: list[str], models: list[str], preset: str, out: str | Path, *, overrides: list[str] | None = None,
              progress: bool = True, data_dirs: dict[str, str] | None = None, isolate: bool = False) -> dict:
    """Runs each pair under out/runs/<task>-<model>; finished runs are skipped, interrupted ones resumed.
    With `isolate` (what `lra suite` does) each pair trains in a child process."""
    out = Path(out)
    previous = out / "suite.json"
    status: dict[str, dict] = read_json(previous, "a suite record") if previous.exists() else {}
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
                if isolate:
                    results = _train_in_child(task, model, preset, extra, run_dir, resume, progress)
                else:
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


def _train_job(job: dict) -> dict:
    """The child's work: train one pair; its results.json is the result."""
    config = resolve_config(job["task"], job["model"], job["preset"], job["overrides"])
    return train(config, job["run_dir"], resume=job["resume"], progress=job["progress"])


if __name__ == "__main__":
    sys.exit(runtime.serve_job(sys.argv[1:], _train_job, "python -m lra.suite --worker JOB_JSON  (use `lra suite`)"))
