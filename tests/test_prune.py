"""Pruning a trained run: the masks zero what each method says, fine-tuning keeps them, the saved run reloads."""

from __future__ import annotations

import pytest
import torch

from lra.attention import MultiHeadAttention
from lra.errors import LraError
from lra.prune import make_permanent, prune_model, prune_run, sparsity
from lra.trainer import build_for, evaluate_run, read_run_config


def _model(run):
    config = read_run_config(run)
    torch.manual_seed(0)
    return build_for(config), config


def test_magnitude_pruning_zeroes_the_smallest_weights_globally(finished_run):
    model, _ = _model(finished_run)
    weights = torch.cat([m.weight.detach().abs().flatten() for m in model.modules() if isinstance(m, torch.nn.Linear)])
    threshold = weights.kthvalue(int(0.5 * weights.numel())).values
    prune_model(model, "magnitude", 0.5)
    make_permanent(model)
    assert sparsity(model) == pytest.approx(0.5, abs=1e-3)
    kept = torch.cat([m.weight.detach().abs().flatten() for m in model.modules() if isinstance(m, torch.nn.Linear)])
    assert float(kept[kept > 0].min()) >= float(threshold)


def test_head_pruning_removes_whole_heads(finished_run):
    model, config = _model(finished_run)
    prune_model(model, "heads", 0.5)
    make_permanent(model)
    for layer in (m for m in model.modules() if isinstance(m, MultiHeadAttention)):
        width = config.model.qkv_dim // config.model.num_heads
        v = layer.v_proj.weight.view(config.model.num_heads, width, -1)
        o = layer.out_proj.weight.view(-1, config.model.num_heads, width)
        dead = [(v[h] == 0).all() and (o[:, h] == 0).all() for h in range(config.model.num_heads)]
        assert sum(map(bool, dead)) == config.model.num_heads // 2


def test_mlp_pruning_removes_channels(finished_run):
    model, config = _model(finished_run)
    prune_model(model, "mlp", 0.5)
    make_permanent(model)
    for block in model.encoder.blocks:
        rows = block.mlp[0].weight
        assert int((rows == 0).all(dim=1).sum()) == round(0.5 * config.model.mlp_dim)


def test_a_pruned_run_is_saved_fine_tuned_with_its_masks_and_reloads(finished_run, tmp_path):
    unpruned = prune_run(finished_run, "magnitude", [0.0])[0]
    assert unpruned["test_acc"] == pytest.approx(evaluate_run(finished_run)["accuracy"])
    record = prune_run(finished_run, "magnitude", [0.6], finetune_steps=3, finetune_lr=1e-2, out=tmp_path / "p")[0]
    assert record["sparsity"] >= 0.6 - 1e-3  # fine-tuning did not revive pruned weights
    assert evaluate_run(tmp_path / "p")["accuracy"] == pytest.approx(record["test_acc"])


@pytest.mark.parametrize("method, amount, message", [("random", 0.5, "expected one of magnitude, heads, mlp"),
                                                      ("magnitude", 1.0, "expected a fraction in")])
def test_bad_pruning_arguments_are_refused(finished_run, method, amount, message):
    with pytest.raises(LraError, match=message):
        prune_run(finished_run, method, [amount])


def test_the_cli_prints_a_row_per_method_and_amount_and_draws_the_curve(finished_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from lra.cli import main

    png = tmp_path / "curve.png"
    argv = ["prune", str(finished_run), "--method", "magnitude,mlp", "--amounts", "0,0.5", "--plot", str(png)]
    assert main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| magnitude") or
            line.startswith("| mlp")]
    assert len(rows) == 4 and png.read_bytes()[:4] == b"\x89PNG"
