"""The generic battery (xformers_models.md section 16), run for every registered mechanism.

A mechanism is tested here the moment it is registered; its own file adds the oracle-equality tests.
"""

import pytest
import torch

from lra.attention import build_mixer, get_spec, mechanism_names
from lra.attention.base import AttentionContext
from lra.attention.registry import make_options
from lra.errors import LraError
from tests.attention.helpers import padded_mask

DIM, HEADS, QKV, MAX_LEN = 16, 2, 16, 40


def make(name: str, causal: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    spec = get_spec(name)
    mixer = build_mixer(
        name, dim=DIM, qkv_dim=QKV, num_heads=HEADS, max_len=MAX_LEN, causal=causal,
        options=spec.test_options,
    )
    return mixer.double().eval()


ALL = mechanism_names()
CAUSAL = [n for n in ALL if get_spec(n).causal]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("length", [1, 7, 20, 33, MAX_LEN])
def test_shape_for_any_length(name, length):
    mixer = make(name)
    x = torch.randn(2, length, DIM, dtype=torch.float64)
    out = mixer(x, torch.ones(2, length, dtype=torch.bool))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL)
def test_padding_invariance(name):
    mixer = make(name)
    length = 29
    mask = padded_mask(3, length, [length, 17, 5])
    x = torch.randn(3, length, DIM, dtype=torch.float64)
    noisy = torch.where(mask.unsqueeze(-1), x, torch.randn_like(x) * 10)
    out, out_noisy = mixer(x, mask), mixer(noisy, mask)
    torch.testing.assert_close(out[mask], out_noisy[mask], atol=1e-9, rtol=1e-9)
    assert (out[~mask] == 0).all(), "padded query rows must be zeroed"


@pytest.mark.parametrize("name", ALL)
def test_batch_independence(name):
    mixer = make(name)
    x = torch.randn(3, 24, DIM, dtype=torch.float64)
    mask = padded_mask(3, 24, [24, 24, 13])
    changed = x.clone()
    changed[1:] = torch.randn_like(changed[1:])
    torch.testing.assert_close(mixer(x, mask)[0], mixer(changed, mask)[0], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", ALL)
def test_eval_is_deterministic(name):
    x = torch.randn(2, 24, DIM, dtype=torch.float64)
    mask = padded_mask(2, 24, [24, 10])
    first = make(name, seed=1)
    second = make(name, seed=1)
    out = first(x, mask)
    assert torch.equal(out, first(x, mask))
    assert torch.equal(out, second(x, mask)), "same seed must build the same mechanism"


@pytest.mark.parametrize("name", ALL)
def test_gradients_reach_every_parameter(name):
    mixer = make(name).train()
    x = torch.randn(2, 24, DIM, dtype=torch.float64, requires_grad=True)
    mask = padded_mask(2, 24, [24, 15])
    mixer(x, mask).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, param in mixer.named_parameters():
        assert param.grad is not None, f"{pname} got no gradient"
        assert param.grad.abs().sum() > 0, f"{pname} got a zero gradient"


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_no_leak(name):
    mixer = make(name, causal=True)
    length, t = 24, 11
    x = torch.randn(2, length, DIM, dtype=torch.float64)
    mask = torch.ones(2, length, dtype=torch.bool)
    changed = x.clone()
    changed[:, t:] = torch.randn_like(changed[:, t:])
    out, out_changed = mixer(x, mask), mixer(changed, mask)
    torch.testing.assert_close(out[:, :t], out_changed[:, :t], atol=1e-10, rtol=1e-10)
    assert not torch.allclose(out[:, t:], out_changed[:, t:]), "later outputs must see the change"


@pytest.mark.parametrize("name", ALL)
def test_float32_runs_close_to_float64(name):
    mixer = make(name)
    x = torch.randn(2, 20, DIM, dtype=torch.float64)
    mask = padded_mask(2, 20, [20, 12])
    out64 = mixer(x, mask)
    out32 = mixer.float()(x.float(), mask)
    torch.testing.assert_close(out32.double(), out64, atol=1e-4, rtol=1e-3)


LENGTH_FREE = [n for n in ALL if not get_spec(n).length_dependent]


@pytest.mark.parametrize("name", LENGTH_FREE)
def test_trailing_padding_amount_does_not_matter_unless_declared(name):
    """What lets the trainer trim padding: a mechanism not flagged length_dependent must give the same
    outputs for real tokens whatever the amount of trailing padding."""
    mixer = make(name)
    x = torch.randn(2, MAX_LEN, DIM, dtype=torch.float64)
    mask = padded_mask(2, MAX_LEN, [17, 11])
    long_out, short_out = mixer(x, mask), mixer(x[:, :21], mask[:, :21])
    torch.testing.assert_close(long_out[:, :21][mask[:, :21]], short_out[mask[:, :21]], atol=1e-9, rtol=1e-9)


# Mechanisms that form no attention weights, so have none to drop: the model-level rate passes them by
# (as in LRA, whose linear and Performer layers ignore their configured 0.1); a core built directly with a
# rate refuses it.
NO_ATTENTION_WEIGHTS = {
    "linear": "phi(Q) (phi(K)^T V): the L x L weights are never formed",
    "performer": "FAVOR+ / ReLU kernel attention, computed the same way as linear",
    "s4d": "a state-space convolution, not attention (it has its own `dropout` option)",
}


@pytest.mark.parametrize("name", ALL)
def test_attention_dropout_acts_in_training_only_or_is_refused(name):
    """Two layers alike but for the dropout rate: equal in evaluation, different in training (the same
    seed, so Sinkhorn's Gumbel noise and routing's centroid updates are the same in both). A mechanism
    without attention weights raises instead of ignoring the rate."""
    spec = get_spec(name)
    assert spec.has_attention_weights == (name not in NO_ATTENTION_WEIGHTS)

    def build(rate: float):
        torch.manual_seed(0)
        return build_mixer(name, dim=DIM, qkv_dim=QKV, num_heads=HEADS, max_len=32, attention_dropout=rate,
                           options=spec.test_options).double()

    plain, dropped = build(0.0), build(0.5)
    x = torch.randn(2, 32, DIM, dtype=torch.float64)
    mask = padded_mask(2, 32, [32, 21])
    outputs = []
    for layer in (plain, dropped):
        layer.train()
        torch.manual_seed(1)
        outputs.append(layer(x, mask))
    if name in NO_ATTENTION_WEIGHTS:
        torch.testing.assert_close(*outputs)
        if spec.has_heads:
            ctx = AttentionContext(num_heads=HEADS, head_dim=QKV // HEADS, max_len=32, attention_dropout=0.5)
            with pytest.raises((LraError, ValueError), match="attention"):
                spec.cls(make_options(name, spec.test_options), ctx)
        return
    assert not torch.allclose(*outputs), "attention dropout had no effect in training"
    plain.eval(), dropped.eval()
    torch.testing.assert_close(plain(x, mask), dropped(x, mask))


@pytest.mark.parametrize("name", ALL)
def test_runs_forward_and_backward_after_conversion_to_bfloat16(name):
    """module.to(torch.bfloat16), then bf16 inputs: the output is bf16 and finite, and so are the gradients
    (mechanisms that need more precision compute in float32 inside and return the input's dtype)."""
    torch.manual_seed(0)
    mixer = build_mixer(name, dim=DIM, qkv_dim=QKV, num_heads=HEADS, max_len=MAX_LEN,
                        options=get_spec(name).test_options).to(torch.bfloat16).train()
    x = torch.randn(2, 24, DIM, dtype=torch.bfloat16, requires_grad=True)
    out = mixer(x, padded_mask(2, 24, [24, 15]))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    out.float().pow(2).sum().backward()
    assert x.grad.dtype == torch.bfloat16 and torch.isfinite(x.grad).all()
    for pname, param in mixer.named_parameters():
        assert param.grad is None or torch.isfinite(param.grad).all(), f"{pname} has a non-finite gradient"


@pytest.mark.parametrize("name", [n for n in ALL if n not in CAUSAL])
def test_a_mechanism_without_a_causal_mode_refuses_one(name):
    with pytest.raises(LraError, match=f"model {name!r} has no causal mode"):
        make(name, causal=True)


@pytest.mark.parametrize("name", [n for n in ALL if get_spec(n).has_heads])
def test_exposes_weights_exactly_when_span_can_rebuild_the_output(name):
    """`lra span` reads each core's softmax weights written out (`softmax_weights`): for a mechanism flagged
    exposes_weights those weights times v must be the core's output; for the others they must not be
    (otherwise the flag hides a mechanism span could measure)."""
    mixer = make(name)
    captured = []
    mixer.core.register_forward_hook(lambda mod, args, out: captured.append((*args, out)))
    mask = padded_mask(2, 24, [24, 15])
    mixer(torch.randn(2, 24, DIM, dtype=torch.float64), mask)
    q, k, v, key_mask, out = captured[0]
    rebuilt = mixer.core.softmax_weights(q, k, key_mask).to(v.dtype) @ v
    real = mask[:, None, :, None].expand_as(out).clone()
    # Longformer's global rows pass v through a learned map as well (their weights: test_longformer.py).
    real[:, :, : getattr(getattr(mixer.core, "options", None), "num_global_tokens", 0)] = False
    matches = torch.allclose(rebuilt[real], out[real], atol=1e-8, rtol=1e-6)
    assert matches == get_spec(name).exposes_weights
