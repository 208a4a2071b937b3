import json
import math
import shutil
import textwrap

import pytest
import torch

from lra.config import TrainConfig
from lra.errors import LraError
from lra.trainer import batch_indices, evaluate_run, learning_rate, train, trim_padding
from tests.helpers import run_lra, run_python, stop_at


def test_listops_schedule_matches_lra():
    config = TrainConfig(lr=0.05, warmup_steps=1000, schedule="rsqrt", steps=5000)
    assert learning_rate(0, config) == 0.0
    assert learning_rate(1000, config) == pytest.approx(0.05 / 1000 ** 0.5)  # peak 1.58e-3
    assert learning_rate(5000, config) == pytest.approx(7.07e-4, rel=1e-3)
    assert learning_rate(500, config) == pytest.approx(0.5 * 0.05 / 1000 ** 0.5)


def test_retrieval_never_reaches_its_peak():
    retrieval = TrainConfig(lr=0.05, warmup_steps=8000, schedule="rsqrt", steps=5000)
    assert learning_rate(5000, retrieval) == pytest.approx(0.05 * (5000 / 8000) / 8000 ** 0.5)


def test_cosine_cycle_is_all_steps_as_in_lra():
    """LRA: progress = (step - warmup) / steps_per_cycle with steps_per_cycle = the total step count, so
    the image run (175 warmup, 35,000 steps) ends at 0.5 * (1 + cos(pi * 34825 / 35000)) of the peak."""
    cosine = TrainConfig(lr=5e-4, warmup_steps=175, schedule="cosine", steps=35000)
    assert learning_rate(175, cosine) == pytest.approx(5e-4)
    assert learning_rate(175 + 17500, cosine) == pytest.approx(2.5e-4, rel=1e-9)
    end = 5e-4 * 0.5 * (1 + math.cos(math.pi * (34999 - 175) / 35000))
    assert learning_rate(34999, cosine) == pytest.approx(end, rel=1e-9) and end > 0
    short_cycle = TrainConfig(lr=5e-4, warmup_steps=175, schedule="cosine", steps=35000, cycle_steps=1000)
    assert learning_rate(175 + 500, short_cycle) == pytest.approx(2.5e-4, rel=1e-9)


def test_batches_cover_each_epoch_once_and_are_reproducible():
    n, batch = 50, 8
    epoch = torch.cat([batch_indices(s, n, batch, seed=1) for s in range(n // batch)])
    assert len(set(epoch.tolist())) == len(epoch) == 48
    assert torch.equal(batch_indices(3, n, batch, 1), batch_indices(3, n, batch, 1))
    assert not torch.equal(batch_indices(0, n, batch, 1), batch_indices(6, n, batch, 1))  # next epoch reshuffles


def test_trim_padding():
    tokens = torch.tensor([[3, 4, 0, 0, 0], [5, 0, 6, 0, 0]])
    assert trim_padding(tokens).shape == (2, 3)
    assert trim_padding(torch.zeros(2, 4, dtype=torch.long)).shape == (2, 1)


def test_run_directory_and_eval_reproduces_accuracy(fast_config, tmp_path):
    run = tmp_path / "run"
    results = train(fast_config(), run, progress=False)
    assert {"config.json", "metrics.jsonl", "results.json", "best.pt", "last.pt"} <= {p.name for p in run.iterdir()}
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [4, 8, 12]
    stored = json.loads((run / "results.json").read_text())
    for key in ("val_acc", "test_acc", "test_acc_last", "test_majority_acc", "steps", "wall_time_s",
                "parameters", "environment"):
        assert key in stored
    assert stored["environment"]["torch"] == torch.__version__
    assert evaluate_run(run, "test", "best")["accuracy"] == pytest.approx(results["test_acc"])
    assert evaluate_run(run, "test", "last")["accuracy"] == pytest.approx(results["test_acc_last"])
    with pytest.raises(LraError, match="already holds a run"):
        train(fast_config(), run, progress=False)


def test_resume_refuses_another_config(fast_config, tmp_path):
    train(fast_config(), tmp_path / "run", progress=False)
    with pytest.raises(LraError, match="another config"):
        train(fast_config("train.lr=0.01"), tmp_path / "run", resume=True, progress=False)


def test_checkpoint_of_another_config_is_refused(fast_config, tmp_path):
    run = tmp_path / "run"
    train(fast_config(), run, progress=False)
    config = json.loads((run / "config.json").read_text())
    config["model"]["emb_dim"] = 32
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(LraError, match=r"another configuration .*differs in model"):
        evaluate_run(run)


def test_checkpoint_without_a_config_is_still_checked_against_the_model(fast_config, tmp_path):
    run = tmp_path / "run"
    train(fast_config(), run, progress=False)
    state = torch.load(run / "last.pt", weights_only=True)
    del state["config"]
    torch.save(state, run / "last.pt")
    config = json.loads((run / "config.json").read_text())
    config["model"]["mlp_dim"] = 48
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(LraError, match="does not fit the model") as error:
        evaluate_run(run, checkpoint="last")
    assert "\n" not in str(error.value)


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from lra.presets import resolve_config
    from lra.trainer import train
    config = resolve_config("listops", "transformer", "tiny", sys.argv[2:])
    def crash(step):
        if step == 7:  # after the checkpoint of step 6, in the middle of the next interval
            os.kill(os.getpid(), signal.SIGKILL)
    train(config, sys.argv[1], progress=False, on_step=crash)
""")


def test_killed_run_resumes_to_the_same_weights(fast_config, fast_overrides, tmp_path):
    whole = tmp_path / "whole"
    train(fast_config(), whole, progress=False)

    killed = tmp_path / "killed"
    proc = run_python(KILLED_RUN, str(killed), *fast_overrides(), timeout=None)
    assert proc.returncode == -9, proc.stderr
    assert torch.load(killed / "last.pt", weights_only=False)["step"] == 6
    assert not (killed / "results.json").exists()
    resumed = run_lra("train", "--resume", "--out", str(killed), "--quiet")
    assert resumed.returncode == 0, resumed.stderr

    a = torch.load(whole / "last.pt", weights_only=False)
    b = torch.load(killed / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 12
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    metrics = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    expected = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [4, 8, 12]
    assert [m["val_acc"] for m in metrics] == [m["val_acc"] for m in expected]


class Interrupted(Exception):
    pass


def test_a_run_written_before_an_option_rename_resumes_and_evaluates(fast_config, tmp_path):
    """A run directory whose config.json and checkpoints name an option by its old name (local's `window`,
    now `block_size`: lra/attention/base.py) resumes to the weights of an uninterrupted run and evaluates."""
    from lra.trainer import read_run_config

    whole = tmp_path / "whole"
    train(fast_config(model="local"), whole, progress=False)

    old = tmp_path / "old"
    with pytest.raises(Interrupted):
        train(fast_config(model="local"), old, progress=False, on_step=stop_at(7, Interrupted))
    config = json.loads((old / "config.json").read_text())
    assert config["model"]["attention_options"] == {"block_size": 16}
    config["model"]["attention_options"] = {"window": 16}  # as the code before the rename wrote it
    (old / "config.json").write_text(json.dumps(config))
    for name in ("last.pt", "best.pt"):
        state = torch.load(old / name, weights_only=False)
        state["config"] = config
        torch.save(state, old / name)

    suite = tmp_path / "suite"  # `lra suite --resume` resolves the config afresh, under the new names
    shutil.copytree(old, suite)
    with pytest.warns(FutureWarning, match="'window' is now called 'block_size'"):
        train(fast_config(model="local"), suite, resume=True, progress=False)
    assert evaluate_run(suite, "test", "last")["accuracy"] == pytest.approx(evaluate_run(whole, "test", "last")
                                                                            ["accuracy"])
    for name, tensor in torch.load(whole / "last.pt", weights_only=False)["model"].items():
        assert torch.equal(tensor, torch.load(suite / "last.pt", weights_only=False)["model"][name]), name
    with pytest.warns(FutureWarning, match="'window' is now called 'block_size'"):
        results = train(read_run_config(old), old, resume=True, progress=False)
        assert evaluate_run(old, "test", "last")["accuracy"] == pytest.approx(results["test_acc_last"])
    a = torch.load(whole / "last.pt", weights_only=False)
    b = torch.load(old / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 12
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_tagged_parameters_get_their_own_group():
    from lra.config import ModelConfig
    from lra.model import build_model
    from lra.trainer import parameter_groups

    model = build_model(ModelConfig(attention="s4d", num_layers=1, emb_dim=8, qkv_dim=8, mlp_dim=8, num_heads=2,
                                    attention_options={"d_state": 4}), vocab_size=5, num_classes=2, max_len=10)
    groups = parameter_groups(model, TrainConfig(lr=0.05, weight_decay=0.1))
    assert len(groups) == 2
    assert groups[1]["weight_decay"] == 0.0 and groups[1]["lr_scale"] == pytest.approx(1e-3 / 0.05)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_a_run_checkpointed_before_newer_config_fields_resumes(fast_config, tmp_path):
    """config.json and the checkpoints of a run written before a field existed (here those added with model
    parallelism, self-pretraining and adaptive depth) resume to the weights of an uninterrupted run."""
    whole = tmp_path / "whole"
    train(fast_config(), whole, progress=False)
    old = tmp_path / "old"
    with pytest.raises(Interrupted):
        train(fast_config(), old, progress=False, on_step=stop_at(7, Interrupted))
    config = json.loads((old / "config.json").read_text())
    for section, key in [("train", "parallel"), ("train", "objective"), ("train", "mask_rate"),
                         ("train", "init_from"), ("model", "adaptive_depth"), ("model", "ponder_weight"),
                         ("model", "halt_threshold")]:
        del config[section][key]
    (old / "config.json").write_text(json.dumps(config))
    for name in ("last.pt", "best.pt"):
        state = torch.load(old / name, weights_only=False)
        state["config"] = config
        torch.save(state, old / name)
    train(fast_config(), old, resume=True, progress=False)
    a = torch.load(whole / "last.pt", weights_only=False)["model"]
    b = torch.load(old / "last.pt", weights_only=False)["model"]
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name
