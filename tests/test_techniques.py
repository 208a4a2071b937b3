"""The survey's general techniques: each is a config flag with a correctness test."""

import json
import subprocess
import sys

import pytest
import torch

from lra.model import build_model
from lra.moe import SwitchFeedForward, auxiliary_loss
from lra.reversible import reversible, reversible_ref
from lra.trainer import train
from tests.helpers import assert_same_gradients, small_model_config, train_argv


def model_with(seed=0, **kw):
    torch.manual_seed(seed)
    config = small_model_config(**{"num_layers": 3, "dropout": 0.1, **kw})
    return build_model(config, vocab_size=17, num_classes=10, max_len=24).double()


def grads_of(model, tokens, labels, seed=5):
    torch.manual_seed(seed)
    model.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(tokens), labels)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


TOKENS = torch.randint(1, 17, (4, 24), generator=torch.Generator().manual_seed(0))
TOKENS[2, 15:] = 0
LABELS = torch.tensor([1, 2, 3, 4])


def test_gradient_checkpointing_gives_identical_gradients():
    plain, ckpt = model_with(), model_with(checkpoint_blocks=True)
    loss_a, grads_a = grads_of(plain, TOKENS, LABELS)
    loss_b, grads_b = grads_of(ckpt, TOKENS, LABELS)
    assert torch.equal(loss_a, loss_b)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=1e-12, rtol=1e-10)


def test_reversible_matches_plain_autograd_with_dropout():
    torch.manual_seed(0)
    blocks = [torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.3), torch.nn.Tanh()).double()
              for _ in range(4)]
    pairs = [(blocks[0], blocks[1]), (blocks[2], blocks[3])]
    params = [p for b in blocks for p in b.parameters()]
    x = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)

    torch.manual_seed(1)
    out_ref = reversible_ref(x, pairs)
    out_ref.pow(2).sum().backward()
    expected = [x.grad.clone()] + [p.grad.clone() for p in params]
    x.grad = None
    for p in params:
        p.grad = None

    torch.manual_seed(1)
    out = reversible(x, pairs, params)
    torch.testing.assert_close(out, out_ref)
    out.pow(2).sum().backward()
    for got, want in zip([x.grad] + [p.grad for p in params], expected):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_reversible_gradients_equal_its_reference_for_a_random_output_gradient(dropout):
    """One random output gradient through the coupling's own backward (inputs rebuilt from outputs, dropout
    replayed) and through plain autograd: the same gradients of x and of every parameter."""
    torch.manual_seed(0)
    blocks = [torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(dropout), torch.nn.Tanh()).double()
              for _ in range(6)]
    pairs = [(blocks[0], blocks[1]), (blocks[2], blocks[3]), (blocks[4], blocks[5])]
    params = [p for b in blocks for p in b.parameters()]
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def fast(x):
        torch.manual_seed(1)  # the same dropout masks on both paths
        return reversible(x, pairs, params)

    def ref(x):
        torch.manual_seed(1)
        return reversible_ref(x, pairs)

    assert_same_gradients(fast, ref, (x,), params=params)


def test_reversible_model_gradients_match_its_reference():
    model = model_with(reversible=True)
    _, grads = grads_of(model, TOKENS, LABELS)
    # The same model evaluated through plain autograd (what the no-grad path uses) must agree.
    import lra.model as lra_model

    original = lra_model.reversible
    lra_model.reversible = lambda x, pairs, params: reversible_ref(x, pairs)
    try:
        _, expected = grads_of(model, TOKENS, LABELS)
    finally:
        lra_model.reversible = original
    for name in grads:
        torch.testing.assert_close(grads[name], expected[name], atol=1e-10, rtol=1e-8)


def test_shared_layers_have_one_block_of_parameters():
    shared, plain = model_with(share_layers=True), model_with()
    block = sum(p.numel() for p in plain.encoder.blocks[0].parameters())
    total = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert total(plain) - total(shared) == 2 * block
    assert len(shared.encoder.layers) == 3 and set(shared.encoder.layers) == {0}


def test_switch_moe_routes_each_token_to_one_expert_and_balances():
    torch.manual_seed(0)
    moe = SwitchFeedForward(8, 16, 4, 0.0, torch.nn.Linear).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    out = moe(x)
    probs = moe.router(x.reshape(-1, 8)).softmax(-1)
    gate, choice = probs.max(-1)
    for t in range(10):
        expected = moe.experts[int(choice[t])](x.reshape(-1, 8)[t]) * gate[t]
        torch.testing.assert_close(out.reshape(-1, 8)[t], expected)
    with torch.no_grad():
        moe.router.weight.zero_()  # uniform probabilities: the balancing loss is exactly 1
    moe(x)
    assert moe.last_aux_loss.item() == pytest.approx(1.0)
    model = model_with(moe_experts=3)
    model(TOKENS)
    aux = auxiliary_loss(model)
    assert aux.requires_grad and 1.0 <= aux.item() / 3 <= 3.0


def test_gradient_accumulation_equals_one_big_batch(fast_config, tmp_path):
    whole = train(fast_config("model.dropout=0", "model.attention_dropout=0", "train.steps=4"), tmp_path / "a",
                  progress=False)
    accum = train(fast_config("model.dropout=0", "model.attention_dropout=0", "train.steps=4",
                              "train.grad_accum=4"), tmp_path / "b", progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["model"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=2e-5, rtol=1e-4)
    assert whole["steps"] == accum["steps"] == 4


def test_bf16_autocast_trains(fast_config, tmp_path):
    results = train(fast_config("train.precision=bf16", "train.steps=4"), tmp_path / "r", progress=False)
    assert results["steps"] == 4 and 0.0 <= results["test_acc"] <= 1.0


def test_ddp_two_processes_match_one(fast_config, fast_overrides, tmp_path):
    extra = ["model.dropout=0", "model.attention_dropout=0", "train.steps=8", "train.eval_every=2", "train.threads=1"]
    one = tmp_path / "one"
    train(fast_config(*extra), one, progress=False)
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
            "-m", "lra", *train_argv("listops", tmp_path / "two", *fast_overrides(*extra))]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    curve = lambda run: [json.loads(x)["train_loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert len(curve(one)) == 4
    torch.testing.assert_close(torch.tensor(curve(tmp_path / "two")), torch.tensor(curve(one)), atol=1e-4, rtol=1e-4)
    assert json.loads((tmp_path / "two" / "results.json").read_text())["processes"] == 2
