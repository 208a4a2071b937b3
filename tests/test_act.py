"""Adaptive computation time over one shared block (lra/act.py): the fast loop against its per-token
reference, the halting arithmetic on crafted halting units, early exit, padding, training and `lra eval`."""

import dataclasses
import json
import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from lra import SequenceEncoder
from lra.act import AdaptiveDepth, act_ref, average_layers, ponder_cost, reset_statistics, set_threshold
from lra.attention import registry
from lra.cli import main
from lra.config import RunConfig, validate
from lra.errors import LraError
from lra.model import Block, build_model
from lra.trainer import evaluate_run, train
from tests.helpers import assert_same_gradients, one_line_error, small_model_config

DIM = 8


def make_act(max_steps=4, threshold=0.99, seed=0, block=None, scale=3.0, bias=-0.5):
    """An AdaptiveDepth in float64 around a small real Block. The halting unit's weights are scaled by `scale`
    and its bias set to `bias`: the defaults make tokens halt after 1, 2, ... max_steps steps on `inputs()`
    (the UT init, bias 1, would halt nearly all of them after two)."""
    torch.manual_seed(seed)
    config = small_model_config(emb_dim=DIM, qkv_dim=DIM, mlp_dim=12, num_heads=2)
    act = AdaptiveDepth(block if block is not None else Block(config, max_len=16), DIM, max_steps, threshold)
    with torch.no_grad():
        act.halt.weight.mul_(scale)
        act.halt.bias.fill_(bias)
    return act.double()


def constant_halting(act, p):
    """Every token's halting probability is exactly p at every step."""
    with torch.no_grad():
        act.halt.weight.zero_()
        act.halt.bias.fill_(math.log(p / (1 - p)))
    return act


def inputs(seed=1):
    x = torch.randn(3, 10, DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 3:] = False
    return x, mask


class PlusOne(nn.Module):
    """A block whose step adds 1 to every feature: with the step signal zeroed, state = x + sum of weights."""

    def forward(self, x, mask):
        return x + 1.0


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_fast_path_equals_reference_outputs_ponder_and_gradients():
    act = make_act()
    x, mask = inputs()
    ref = act_ref(act, x, mask)
    out = act(x, mask)
    torch.testing.assert_close(out, ref.output, rtol=1e-12, atol=1e-12)
    # the case exercises every depth, including the forced halt at the last step, and a real remainder
    assert set(ref.updates[mask].long().tolist()) == {1, 2, 3, 4}
    assert (ref.remainders[mask] < 1).any()
    torch.testing.assert_close(act.last_ponder_cost, ref.ponder[mask].mean(), rtol=1e-12, atol=0)
    assert act.last_layers_used == pytest.approx(ref.updates[mask].mean().item())

    params = list(act.parameters())
    assert_same_gradients(lambda x: act(x, mask), lambda x: act_ref(act, x, mask).output, (x,), params=params)
    act(x, mask)
    fast = torch.autograd.grad(act.last_ponder_cost, params)
    slow = torch.autograd.grad(act_ref(act, x, mask).ponder[mask].mean(), params)
    assert fast[-2].abs().sum() > 0  # the ponder cost reaches the halting unit (weight, bias: last) through R
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_update_weights_of_each_real_token_sum_to_one_and_padding_gets_none():
    x, mask = inputs()
    ref = act_ref(make_act(), x, mask)
    torch.testing.assert_close(ref.weights.sum(0)[mask], torch.ones(int(mask.sum()), dtype=torch.float64))
    assert (ref.weights[:, ~mask] == 0).all()
    act = make_act(block=PlusOne())
    act.step_signal.zero_()
    added = act(x, mask) - x
    torch.testing.assert_close(added[mask], torch.ones_like(added[mask]))
    assert (added[~mask] == 0).all()


@pytest.mark.parametrize("p, max_steps, updates, remainder", [
    (0.4, 6, 3, 0.2),  # 0.4 + 0.4 <= 0.99 < 0.4 + 0.4 + 0.4: halts at step 3 with R = 1 - 0.8
    (0.3, 2, 2, 0.7),  # forced to halt at the last allowed step with R = 1 - 0.3
    (0.995, 4, 1, 1.0),  # passes the threshold at once: one step of weight R = 1
])
def test_ponder_cost_is_updates_plus_remainder(p, max_steps, updates, remainder):
    act = constant_halting(make_act(max_steps=max_steps), p)
    x, mask = inputs()
    calls = count_calls(act.block)
    act(x, mask)
    assert act.last_ponder_cost.item() == pytest.approx(updates + remainder, abs=1e-12)
    assert act.last_layers_used == updates and len(calls) == updates
    ref = act_ref(act, x, mask)
    torch.testing.assert_close(ref.remainders[mask], torch.full((int(mask.sum()),), remainder, dtype=torch.float64))
    assert (ref.updates[mask] == updates).all()


def test_early_exit_stops_when_every_real_token_has_halted_and_changes_nothing():
    act = make_act(max_steps=8, scale=1.0, bias=2.0)
    x, mask = inputs()
    calls = count_calls(act.block)
    out = act(x, mask)
    fast_calls = len(calls)
    ref = act_ref(act, x, mask)  # always 8 steps
    deepest = int(ref.updates[mask].max())
    assert len(calls) - fast_calls == 8
    assert deepest < 8 and fast_calls == deepest
    assert len(set(ref.updates[mask].tolist())) >= 3  # tokens halted at different steps
    torch.testing.assert_close(out, ref.output, rtol=1e-12, atol=1e-12)


def test_a_lower_threshold_uses_fewer_layers():
    model = build_model(small_model_config(num_layers=6, adaptive_depth=True), vocab_size=17, num_classes=3,
                        max_len=12).double().eval()
    act = model.encoder.adaptive
    constant_halting(act, 0.4)
    tokens = torch.randint(1, 17, (4, 12), generator=torch.Generator().manual_seed(0))
    layers = {}
    for threshold in (0.99, 0.5, 0.3):
        set_threshold(model, threshold)
        reset_statistics(model)
        model(tokens)
        model(tokens[:2])
        layers[threshold] = average_layers(model)
    assert layers == {0.99: 3.0, 0.5: 2.0, 0.3: 1.0}
    spread = make_act(max_steps=6)
    x, mask = inputs()
    used = []
    for threshold in (0.99, 0.6):
        spread.threshold = threshold
        spread(x, mask)
        used.append(spread.last_layers_used)
    assert used[1] < used[0]
    with pytest.raises(LraError, match="threshold"):
        set_threshold(model, 1.5)
    with pytest.raises(LraError, match="no adaptive depth"):
        set_threshold(build_model(small_model_config(), vocab_size=17, num_classes=3, max_len=12), 0.5)


def test_padding_changes_no_real_output_and_is_not_counted():
    act = make_act()
    x, mask = inputs()
    out = act(x, mask)
    other = x.clone()
    other[~mask] = torch.randn(int((~mask).sum()), DIM, dtype=torch.float64)
    torch.testing.assert_close(act(other, mask)[mask], out[mask], rtol=1e-12, atol=1e-12)
    act.reset_statistics()
    act(x, mask)
    assert act.tokens_count == int(mask.sum())
    assert act.average_layers == pytest.approx(act_ref(act, x, mask).updates[mask].mean().item())
    # the whole model: an example gives the same logits with trailing padding, and its layer count is the same
    model = build_model(small_model_config(num_layers=4, adaptive_depth=True), vocab_size=17, num_classes=3,
                        max_len=20).double().eval()
    with torch.no_grad():  # tokens halting after different numbers of steps
        model.encoder.adaptive.halt.weight.normal_(std=0.5)
        model.encoder.adaptive.halt.bias.zero_()
    tokens = torch.randint(1, 17, (2, 12), generator=torch.Generator().manual_seed(3))
    padded = torch.cat([tokens, torch.zeros(2, 8, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(padded), model(tokens), rtol=1e-12, atol=1e-12)
    reset_statistics(model)
    model(tokens)
    plain = (average_layers(model), model.encoder.adaptive.tokens_count)
    reset_statistics(model)
    model(padded)
    assert (average_layers(model), model.encoder.adaptive.tokens_count) == pytest.approx(plain)
    assert plain[1] == 2 * 13  # real tokens and CLS only


def test_ponder_cost_of_a_model_and_of_both_towers():
    plain = build_model(small_model_config(), vocab_size=17, num_classes=3, max_len=12)
    plain(torch.ones(2, 12, dtype=torch.long))
    assert ponder_cost(plain) == 0.0
    config = small_model_config(num_layers=3, adaptive_depth=True, interaction="concat", pooling="mean")
    model = build_model(config, vocab_size=17, num_classes=3, max_len=12, two_tower=True).double()
    tokens = torch.randint(1, 17, (2, 2, 12), generator=torch.Generator().manual_seed(4))
    tokens[0, 1, 7:] = 0
    joint = model(tokens)
    cost = ponder_cost(model)
    assert cost.requires_grad and 1.0 <= cost.item() <= 4.0
    # the joint pass is the token-weighted mean of the two documents' costs, and the same logits
    act, costs, counts = model.encoder.adaptive, [], []
    for doc in (0, 1):
        act.reset_statistics()
        model.encoder.encode(tokens[:, doc])
        costs.append(act.last_ponder_cost.item())
        counts.append(act.tokens_count)
    assert counts == [24, 19] and cost.item() == pytest.approx((costs[0] * 24 + costs[1] * 19) / 43, abs=1e-12)
    model.joint = False
    torch.testing.assert_close(model(tokens), joint, rtol=1e-12, atol=1e-12)


def test_checkpointing_each_step_gives_identical_gradients():
    tokens = torch.randint(1, 17, (3, 12), generator=torch.Generator().manual_seed(5))
    tokens[1, 8:] = 0
    grads = []
    for checkpointed in (False, True):
        torch.manual_seed(0)
        config = small_model_config(num_layers=4, adaptive_depth=True, checkpoint_blocks=checkpointed)
        model = build_model(config, vocab_size=17, num_classes=3, max_len=12).double()
        loss = model(tokens).sum() + 0.3 * ponder_cost(model)
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and "encoder.adaptive.halt.weight" in grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-12, atol=1e-14)


@dataclass(frozen=True)
class _NoOptions:
    pass


class WholeEncoder(SequenceEncoder):
    """A registered whole encoder (model.attention=tests.test_act:WholeEncoder): it has no lra blocks."""

    Options = _NoOptions

    def __init__(self, options, config, vocab_size, max_len):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.emb_dim)

    def forward(self, tokens):
        return self.embed(tokens), tokens > 0


def test_config_validation(monkeypatch):
    def check(**model):
        config = RunConfig()
        config.model = dataclasses.replace(config.model, **model)
        validate(config)

    check(adaptive_depth=True, checkpoint_blocks=True, share_layers=True, moe_experts=2, halt_threshold=1.0)
    with pytest.raises(LraError, match=r"model\.adaptive_depth and model\.reversible"):
        check(adaptive_depth=True, reversible=True)
    with pytest.raises(LraError, match=r"model\.adaptive_depth and train\.parallel=fsdp"):
        config = RunConfig()
        config.model.adaptive_depth, config.train.parallel = True, "fsdp"
        validate(config)
    for value in (0.0, -0.1, 1.01):
        with pytest.raises(LraError, match=r"model\.halt_threshold.*\(0, 1\]"):
            check(halt_threshold=value)
    with pytest.raises(LraError, match=r"model\.ponder_weight"):
        check(ponder_weight=-0.5)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the plugin's registration is undone
    with pytest.raises(LraError, match=r"model\.adaptive_depth.*model\.attention='tests\.test_act:WholeEncoder'"):
        check(adaptive_depth=True, attention="tests.test_act:WholeEncoder", attention_options={})
    assert RunConfig().model.adaptive_depth is False and RunConfig().model.halt_threshold == 0.99


def test_trains_and_lra_eval_sweeps_thresholds(fast_config, tmp_path, capsys):
    run = tmp_path / "act"
    config = fast_config("model.adaptive_depth=true", "model.num_layers=3", "train.steps=4", "model.dropout=0",
                         "model.attention_dropout=0")
    results = train(config, run, progress=False)
    assert results["steps"] == 4
    weights = torch.load(run / "last.pt", weights_only=True)["model"]
    assert "encoder.adaptive.halt.weight" in weights and not any(k.startswith("encoder.blocks.") for k in weights)
    assert not torch.all(weights["encoder.adaptive.halt.bias"] == 1.0)  # the halting unit was trained

    capsys.readouterr()
    assert main(["eval", str(run), "--halt-threshold", "0.5,0.99", "--json", str(tmp_path / "rows.json")]) == 0
    printed = capsys.readouterr().out
    assert "| 0.5 |" in printed and "| 0.99 |" in printed
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [r["threshold"] for r in rows] == [0.5, 0.99]
    assert all(1.0 <= r["average_layers"] <= 3.0 and r["max_layers"] == 3 for r in rows)
    # at the run's own threshold the sweep reproduces the plain evaluation
    assert rows[1]["accuracy"] == evaluate_run(run)["accuracy"]

    assert main(["eval", str(run), "--halt-threshold", "0.5,2"]) == 2
    one_line_error(capsys, "threshold 2.0", "(0, 1]")
    assert main(["eval", str(run), "--json", str(tmp_path / "x.json")]) == 2
    one_line_error(capsys, "--halt-threshold")


def test_halt_threshold_on_a_run_without_adaptive_depth_is_refused(finished_run, capsys):
    assert main(["eval", str(finished_run), "--halt-threshold", "0.5"]) == 2
    one_line_error(capsys, "model.adaptive_depth=true", str(finished_run))


def test_the_ponder_cost_reaches_the_training_loss(fast_config, tmp_path):
    """With a ponder weight the trainer pushes the halting unit towards halting sooner (a larger bias)."""
    biases = []
    for weight in (0, 1):
        config = fast_config("model.adaptive_depth=true", "model.num_layers=3", "train.steps=4", "model.dropout=0",
                             "model.attention_dropout=0", f"model.ponder_weight={weight}")
        train(config, tmp_path / f"w{weight}", progress=False)
        biases.append(float(torch.load(tmp_path / f"w{weight}" / "last.pt", weights_only=True)["model"]
                            ["encoder.adaptive.halt.bias"]))
    assert biases[1] > biases[0] + 0.01
