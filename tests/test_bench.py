"""The benchmark harness: one child process per measurement, failures recorded, tables formed from files."""

from dataclasses import asdict

import pytest

from lra.bench import Spec, run_one
from lra.cli import main
from lra.report import bench_table
from lra.report import sweep_and_write as run_sweep  # lra.bench.run_sweep, then the rendered files
from tests.helpers import run_python


def test_sweep_measures_baselines_and_writes_outputs(tmp_path):
    sweep = run_sweep(["transformer", "reference"], [32, 64], task="listops", batch_size=2, repeats=1, warmup=1,
                      threads=1, out=tmp_path, progress=False)
    assert [r["status"] for r in sweep["results"]] == ["ok"] * 4
    first = sweep["results"][0]
    assert first["spec"]["model"] == "reference", "baselines are measured first"
    for r in sweep["results"]:
        assert r["times_s"]["step"]["min"] <= r["times_s"]["step"]["median"] <= r["times_s"]["step"]["max"]
        assert r["peak_memory_mb"] > 0 and r["flops_per_step"] > 0 and r["parameters"] > 0
    flops = {r["spec"]["length"]: r["flops_per_step"] for r in sweep["results"] if r["spec"]["model"] == "reference"}
    assert flops[64] > 1.5 * flops[32]
    table = (tmp_path / "table.md").read_text()
    assert "| reference | " in table and "1.00x / " in table and "The paper's Table 2" in table
    assert (tmp_path / "results.csv").read_text().count("\n") == 5


def test_a_failing_measurement_is_recorded_not_raised():
    result = run_one(Spec(model="no-such-model", length=16, task="listops", batch_size=1, repeats=1), timeout_s=120)
    assert result.status == "error" and "no-such-model" in result.error


def test_timeout_is_recorded():
    result = run_one(Spec(model="transformer", length=16, task="listops", batch_size=1, repeats=1), timeout_s=0.01)
    assert result.status == "timeout"


def test_attention_mode_times_forward_backward_and_both():
    result = run_one(Spec(model="transformer", length=64, batch_size=2, mode="attention", repeats=1, heads=2,
                          head_dim=8, task="listops", threads=1), timeout_s=120)
    assert result.status == "ok", result.error
    assert set(result.times_s) == {"forward", "backward", "both"}
    assert result.times_s["forward"]["median"] <= result.times_s["both"]["median"]


def test_table_marks_failed_cells():
    ok = {"spec": asdict(Spec(model="reference", length=8)), "status": "ok", "error": "",
          "times_s": {"step": {"median": 0.5, "min": 0.5, "max": 0.5}}, "peak_memory_mb": 100.0,
          "tokens_per_s": 1.0, "flops_per_step": 1.0, "parameters": 1}
    failed = {**ok, "spec": asdict(Spec(model="transformer", length=8)), "status": "oom"}
    sweep = {"results": [ok, failed], "lengths": [8], "mode": "train", "task": "text", "batch_size": 1,
             "repeats": 1, "warmup": 1, "sweep_time_s": 1.0,
             "environment": {"cpu": "x", "threads": 1, "dtype": "float32", "torch": "t"}}
    table = bench_table(sweep)
    assert "| transformer | OOM | OOM |" in table and "| reference | 2 (1.00x / –) |" in table


@pytest.mark.parametrize("args, fragment", [
    (["bench", "--task", "listops", "--models", "nope"], "unknown model 'nope'"),
    (["bench", "--task", "nope"], "unknown task 'nope'"),
    (["bench", "--task", "listops", "--lengths", "1k"], "--lengths"),
])
def test_bench_cli_errors(args, fragment, capsys):
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_bench_writes_raw_results_and_does_not_import_report():
    code = "import sys, lra.bench, lra.runtime; print('lra.report' in sys.modules)"
    proc = run_python(code, check=True)
    assert proc.stdout.strip() == "False"
