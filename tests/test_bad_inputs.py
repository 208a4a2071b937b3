"""Hostile and careless inputs through the command line: exit 2, one line naming the problem, nothing written.

Each case reproduces a probe that once gave a traceback, a silent wrong number or a half-made run directory.
"""

import json
import os
import pickle
import signal

import pytest
import torch

from lra.cli import main
from lra.errors import LraError
from lra.runtime import failure_status
from lra.trainer import run_lock, train
from tests.helpers import one_line_error, stop_at, train_argv


@pytest.fixture
def train_args(fast_overrides, tmp_path):
    def make(*overrides: str, out=None):
        return train_argv("listops", out or tmp_path / "run", *fast_overrides(*overrides))

    return make


@pytest.mark.parametrize("override, fragment", [
    ("train.eval_batch_size=-1", "train.eval_batch_size=-1"),
    ("train.lr=-1", "train.lr=-1.0"),
    ("train.lr=nan", "expected a finite number"),
    ("train.lr=inf", "expected a finite number"),
    ("train.batch_size=0", "train.batch_size=0"),
    ("train.eval_every=0", "train.eval_every=0"),
    ("train.checkpoint_every=0", "train.checkpoint_every=0"),
    ("train.steps=0", "train.steps=0"),
    ("train.schedule=cosinus", "one of rsqrt, cosine, constant"),
    ("train.precision=fp8", "one of float32, bf16, fp16"),
    ("train.grad_accum=3", "must divide into"),
    ("model.num_heads=0", "model.num_heads=0"),
    ("model.num_heads=3", "divisible by model.num_heads=3"),
    ("model.dropout=2", "a rate in [0, 1)"),
    ("model.pooling=max", "model.pooling='max'"),
    ("data.max_length=1e8", "expected a value of type int"),
    ("data.max_length=200000", "a length in [1, 65536]"),
    ("model.attention_options.nope=1", "unknown option(s) nope"),
])
def test_a_rejected_setting_writes_nothing(override, fragment, train_args, tmp_path, capsys):
    assert main(train_args(override)) == 2
    one_line_error(capsys, fragment)
    assert not (tmp_path / "run").exists(), "validated before the run directory is made"


@pytest.mark.parametrize("model, option, fragment", [
    ("local", "block_size=abc", "block_size"),
    ("local", "block_size=0", "block_size"),
    ("performer", "num_features=0", "num_features"),
])
def test_mechanism_options_fail_at_config_time(model, option, fragment, train_args, tmp_path, capsys):
    args = train_args(f"model.attention_options.{option}")
    args[args.index("--preset"):args.index("--preset")] = ["--model", model]
    assert main(args) == 2
    one_line_error(capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_config_show_validates_too(capsys):
    assert main(["config", "show", "--task", "listops", "--set", "train.lr=-1"]) == 2
    one_line_error(capsys, "train.lr")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def test_a_crafted_checkpoint_does_not_run_code(finished_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(finished_run / "best.pt", "wb") as f:
        pickle.dump({"model": RunsCode()}, f)
    assert main(["eval", str(finished_run), "--checkpoint", "best"]) == 2
    one_line_error(capsys, "best.pt")
    assert main(["span", str(finished_run)]) == 2
    one_line_error(capsys, "best.pt")
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_eval_refuses_a_config_edited_to_another_model(finished_run, capsys):
    config = json.loads((finished_run / "config.json").read_text())
    config["model"]["attention"] = "reference"
    (finished_run / "config.json").write_text(json.dumps(config))
    for checkpoint in ("last", "best"):
        assert main(["eval", str(finished_run), "--checkpoint", checkpoint]) == 2
        one_line_error(capsys, "differs in model")


@pytest.mark.parametrize("content, fragment", [
    ("[1, 2]", "found a list"),
    ("{not json", "not valid JSON"),
])
def test_a_broken_config_json_is_one_line(content, fragment, finished_run, capsys):
    (finished_run / "config.json").write_text(content)
    assert main(["eval", str(finished_run)]) == 2
    one_line_error(capsys, fragment)


def test_a_corrupt_results_json_is_one_line_in_report(finished_run, tmp_path, capsys):
    (finished_run / "results.json").write_text('{"task": "listops", "mod')
    assert main(["report", str(tmp_path)]) == 2
    one_line_error(capsys, "results.json")


def test_a_second_trainer_on_one_run_directory_is_refused(fast_config, tmp_path):
    run = tmp_path / "run"
    with run_lock(run):
        with pytest.raises(LraError, match="in use by another trainer"):
            train(fast_config(), run, progress=False)
    assert not (run / "config.json").exists() and not (run / "metrics.jsonl").exists()
    train(fast_config("train.steps=4"), run, progress=False)  # the lock is released with its holder


def test_a_torn_metrics_line_is_dropped_on_resume(fast_config, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(fast_config(), run, progress=False, on_step=stop_at(7, KeyboardInterrupt))
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lr": 0.0')  # a kill in mid-write
    results = train(fast_config(), run, resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 8, 12] and results["steps"] == 12


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_a_read_only_out_is_one_line(train_args, tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        assert main(train_args(out=parent / "run")) == 2
        one_line_error(capsys, "cannot write")
    finally:
        parent.chmod(0o700)


def test_a_run_directory_that_cannot_be_made_is_one_line(train_args, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(train_args(out=blocker / "run")) == 2
    one_line_error(capsys, "cannot write the run directory")


def test_failure_labels_need_evidence():
    assert failure_status(-signal.SIGKILL, "", oom_kills_before=None)[0] == "killed"
    assert failure_status(1, "RuntimeError: DefaultCPUAllocator: can't allocate memory: you tried", None)[0] == "oom"
    assert failure_status(1, "torch.OutOfMemoryError: CUDA out of memory.", None)[0] == "oom"
    assert failure_status(1, "ValueError: bad", None) == ("error", "ValueError: bad")
    assert failure_status(-signal.SIGTERM, "", None) == ("killed", "killed by signal SIGTERM")


def test_checkpoints_load_without_unpickling_code(finished_run):
    for name in ("best.pt", "last.pt"):
        torch.load(finished_run / name, weights_only=True)  # what lra reads must stay loadable this way


def test_an_unwritable_run_directory_is_one_line_even_as_root(train_args, tmp_path, capsys, monkeypatch):
    """Root ignores permission bits, so the refusal of a read-only --out is injected where files are made."""
    import lra.safe_io

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(lra.safe_io.tempfile, "mkstemp", refuse)
    assert main(train_args()) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("lra: note: ")]
    assert len(errors) == 1 and errors[0].startswith("lra: error: cannot write") and "config.json" in errors[0]
    assert not (tmp_path / "run" / "config.json").exists()
