import pytest

from lra.report import accuracy_table, table1_markdown, write_report
from lra.trainer import train
from tests.helpers import run_python


def result(task, model, acc, last=None, majority=0.1):
    return {"task": task, "model": model, "preset": "p", "test_acc": acc, "test_acc_last": last or acc,
            "test_majority_acc": majority, "steps": 1}


def test_lra_score_is_the_mean_of_five_tasks_and_path_x_fails_at_chance():
    runs = [result("listops", "m", 0.36), result("text", "m", 0.10, last=0.64), result("retrieval", "m", 0.58),
            result("image", "m", 0.42), result("pathfinder", "m", 0.72), result("pathx", "m", 0.5, majority=0.5)]
    _, cells, scores = accuracy_table(runs)
    assert cells["m"]["pathx"] == "FAIL" and cells["m"]["text"] == "64.00"
    assert scores["m"]["lra_score"] == pytest.approx((36 + 64 + 58 + 42 + 72) / 5)
    assert scores["m"]["six_task"] == pytest.approx((36 + 64 + 58 + 42 + 72 + 50) / 6)
    table = table1_markdown(runs)
    assert "| m | 36.00 | 64.00 | 58.00 | 42.00 | 72.00 | FAIL | 54.40 | 53.67 | — |" in table
    assert "| transformer | 36.37 | 64.27 | 57.46 | 42.44 | 71.40 | FAIL | 54.39 |" in table


def test_a_cell_within_two_standard_errors_of_the_majority_reads_fail():
    # 1,000 test examples at a 50.2% majority: two binomial standard errors are 3.16 points.
    near = [dict(result("text", "m", acc, majority=0.502), test_examples=1000) for acc in (0.505, 0.533, 0.534)]
    assert [accuracy_table([r])[1]["m"]["text"] for r in near] == ["FAIL", "FAIL", "53.40"]
    # Pathfinder's chance is 50% even when the test split's majority is lower.
    assert accuracy_table([dict(result("pathfinder", "m", 0.52, majority=0.48), test_examples=1000)])[1]["m"] == {
        "pathfinder": "FAIL"}
    # Without a test size (older results) the cell is compared with chance itself.
    assert accuracy_table([result("text", "m", 0.505, majority=0.502)])[1]["m"]["text"] == "50.50"


def test_table1_reports_the_last_parameters_as_lra_did_and_best_val_beside():
    runs = [result("listops", "m", 0.40, last=0.30), result("image", "m", 0.50, last=0.45)]
    _, last_cells, _ = accuracy_table(runs)
    _, best_cells, _ = accuracy_table(runs, checkpoint="best")
    assert last_cells["m"] == {"listops": "30.00", "image": "45.00"}
    assert best_cells["m"] == {"listops": "40.00", "image": "50.00"}
    table = table1_markdown(runs)
    last_at, best_at = table.index("| m | 30.00 | 45.00 |"), table.index("| m | 40.00 | 50.00 |")
    assert "last parameters" in table[:last_at] and "best-validation" in table[last_at:best_at]


def test_partial_scores_are_labelled():
    _, _, scores = accuracy_table([result("listops", "m", 0.3)])
    assert scores["m"]["lra_score"] is None and scores["m"]["partial_mean"] == pytest.approx(30.0)
    assert "30.00 (partial)" in table1_markdown([result("listops", "m", 0.3)])


def test_report_reads_run_directories(finished_run, tmp_path):
    path = write_report(tmp_path)
    assert "1 runs under" in path.read_text()
    assert (tmp_path / "table1.csv").read_text().splitlines()[1].startswith("listops,transformer,tiny,")


def test_plot_draws_every_run_against_steps_and_time(fast_config, tmp_path, capsys):
    from lra.cli import main
    from lra.curves import read_metrics

    for name, model in (("a", "transformer"), ("b", "local")):
        train(fast_config("train.steps=8", model=model), tmp_path / "runs" / name, progress=False)
    assert [r["step"] for r in read_metrics(tmp_path / "runs" / "a")] == [4, 8]
    out = tmp_path / "curves.png"
    assert main(["plot", str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert "2 runs" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "curves.png" in write_report(tmp_path).read_text() and (tmp_path / "curves.png").is_file()


def test_plot_of_a_folder_without_runs_is_one_line(tmp_path, capsys):
    from lra.cli import main

    assert main(["plot", str(tmp_path)]) == 2
    assert "no run directories" in capsys.readouterr().err


def test_tensorboard_logging_writes_event_files(fast_config, tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    train(fast_config("train.steps=4", "train.tensorboard=true"), run, progress=False)
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_tensorboard_without_the_package_is_one_line(fast_config, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    from lra.errors import LraError

    with pytest.raises(LraError, match="needs the tensorboard package"):
        train(fast_config("train.steps=4", "train.tensorboard=true"), tmp_path / "run", progress=False)


def test_paper_figures_are_not_a_preset():
    from lra.presets import preset_names, preset_tasks
    from lra.presets.paper_figures import PAPER_TABLE1, PAPER_TABLE1_TASKS, PAPER_TABLE2

    assert "figures" not in preset_tasks("paper") and "dims" not in preset_names()
    assert {"paper", "tiny"} <= set(preset_names())
    assert len(PAPER_TABLE1_TASKS) == 6 and all(len(v) == 6 for v in PAPER_TABLE1.values())
    assert all(len(speed) == len(memory) == 4 for speed, memory in PAPER_TABLE2.values())


def test_the_report_loads_without_torch():
    code = "import sys, lra.report; print('torch' in sys.modules)"
    proc = run_python(code, check=True)
    assert proc.stdout.strip() == "False"
