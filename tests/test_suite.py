"""lra.suite: the grid of (task, model) runs, resumable, going on past failures, then the report."""

import json

from lra import suite as suite_module
from lra.suite import run_suite
from tests.helpers import FAST


def test_suite_skips_finished_runs_and_goes_on_past_failures(fast_overrides, tmp_path, monkeypatch):
    overrides = fast_overrides("train.steps=4")
    real_train = suite_module.train
    calls = []

    def flaky_train(config, run_dir, **kw):
        calls.append(config.model_name)
        if config.model_name == "reference":
            raise RuntimeError("simulated crash")
        return real_train(config, run_dir, **kw)

    monkeypatch.setattr(suite_module, "train", flaky_train)
    status = run_suite(["listops"], ["reference", "transformer"], "tiny", tmp_path, overrides=overrides,
                       progress=False)
    failed = status["listops-reference"]
    assert failed["status"] == "failed" and "simulated crash" in failed["error"]
    assert status["listops-transformer"]["status"] == "done"
    assert "| transformer |" in (tmp_path / "report.md").read_text()
    again = run_suite(["listops"], ["transformer"], "tiny", tmp_path, overrides=overrides, progress=False)
    assert calls == ["reference", "transformer"], "the finished run is skipped, not trained again"
    assert again["listops-transformer"] == status["listops-transformer"], "and its record (accuracy) is kept"
    assert json.loads((tmp_path / "suite.json").read_text())["listops-transformer"]["status"] == "done"


def test_isolated_suite_trains_each_pair_in_a_child_and_records_its_errors(fast_overrides, tmp_path):
    status = run_suite(["listops"], ["transformer"], "tiny", tmp_path, overrides=fast_overrides("train.steps=2"),
                       progress=False, isolate=True)
    assert status["listops-transformer"]["status"] == "done"
    saved = json.loads((tmp_path / "runs" / "listops-transformer" / "results.json").read_text())
    assert status["listops-transformer"]["test_acc"] == saved["test_acc"]
    missing = run_suite(["listops"], ["linear"], "tiny", tmp_path / "b", progress=False, isolate=True,
                        overrides=[*FAST, f"data.data_dir={tmp_path / 'nowhere'}"])
    error = missing["listops-linear"]
    assert error["status"] == "failed" and "does not exist" in error["error"] and "Traceback" not in error["error"]
