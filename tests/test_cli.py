"""The command line: user errors are one line on stderr with exit code 2 and no traceback."""

import pytest

from lra.cli import main
from tests.helpers import one_line_error, run_lra, train_argv, write_listops_tsv


@pytest.mark.parametrize("args, fragment", [
    (["train", "--task", "nope"], "unknown task 'nope'"),
    (["train", "--task", "listops", "--model", "nope"], "unknown model 'nope'"),
    (["train", "--task", "listops", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--task", "listops", "--set", "train.nope=3"], "unknown key 'train.nope'"),
    (["train", "--task", "listops", "--data-dir", "/nonexistent/x"], "lra data generate listops --out"),
    (["eval", "/nonexistent/run"], "is not a run directory"),
])
def test_user_errors_are_one_line(args, fragment, capsys):
    assert main(args) == 2
    one_line_error(capsys, fragment)


def test_malformed_tsv_names_file_and_line(tmp_path, capsys):
    data = write_listops_tsv(tmp_path / "data", "[MAX 1 2 ]\t2\n", train="[MAX 1 2 ]\t2\n[MIN 3 ]\t4\textra\n")
    assert main(["train", "--task", "listops", "--data-dir", str(data), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "basic_train.tsv" in err and "line 3" in err


def test_label_out_of_range(tmp_path, capsys):
    data = write_listops_tsv(tmp_path / "data", "[MAX 1 2 ]\t12\n")
    assert main(["train", "--task", "listops", "--data-dir", str(data), "--out", str(tmp_path / "r")]) == 2
    assert "12" in capsys.readouterr().err


def test_listing_commands():
    models = run_lra("models")
    assert models.returncode == 0 and "transformer" in models.stdout and "reference" in models.stdout
    tasks = run_lra("tasks")
    assert tasks.returncode == 0 and "listops" in tasks.stdout


def test_generate_then_train_then_eval(tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    gen = run_lra("data", "generate", "listops", "--out", str(data), "--train", "64", "--val", "16", "--test",
                  "16", "--min-length", "4", "--max-length", "30", "--max-depth", "3", "--quiet")
    assert gen.returncode == 0, gen.stderr
    trained = run_lra(*train_argv("listops", out, "model.num_layers=1", "model.emb_dim=16", "model.qkv_dim=16",
                                  "model.mlp_dim=16", "train.steps=4", "train.eval_every=2", "train.batch_size=8",
                                  "data.max_length=30", data_dir=data))
    assert trained.returncode == 0, trained.stderr
    assert "| listops | transformer | tiny |" in trained.stdout
    evaluated = run_lra("eval", str(out))
    assert evaluated.returncode == 0 and "stored in results.json" in evaluated.stdout
    acc, stored = evaluated.stdout.split(":")[1].split()[0], evaluated.stdout.rsplit(":", 1)[1].strip()
    assert acc == stored
