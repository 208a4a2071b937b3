from functools import partial

import pytest
import torch

from lra.attention import build_mixer, reference_attention
from lra.attention.base import AttentionContext
from lra.attention.synthesizer import SynthesizerAttention, SynthesizerOptions
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(mode="random", mix=False, causal=False, trainable=True, max_len=32):
    # rank and trainable_random are refused (at non-default values) by the modes that do not use them
    extra = {"rank": 4} if mode == "factorized_random" else {}
    if mode != "dense":
        extra["trainable_random"] = trainable
    options = SynthesizerOptions(mode=mode, mix_dot_product=mix, **extra)
    return SynthesizerAttention(options, AttentionContext(2, 8, max_len, causal=causal)).double()


qkv = partial(random_qkv, length=20)


def test_zero_random_table_is_uniform_over_real_keys():
    attn = make()
    with torch.no_grad():
        attn.table0.zero_()
    q, k, v = qkv()
    key_mask = padded_mask(2, 20, [20, 12])
    out = attn(q, k, v, key_mask)
    for b, n in enumerate((20, 12)):
        torch.testing.assert_close(out[b], v[b, :, :n].mean(dim=1, keepdim=True).expand(-1, 20, -1),
                                   atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_zero_table_plus_dot_product_is_exact_attention(causal):
    attn = make(mix=True, causal=causal)
    with torch.no_grad():
        attn.table0.zero_()
    q, k, v = qkv()
    key_mask = padded_mask(2, 20, [15, 20])
    got, want = attn(q, k, v, key_mask), reference_attention(q, k, v, key_mask, causal=causal)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(lambda q, k, v: attn(q, k, v, key_mask),
                          lambda q, k, v: reference_attention(q, k, v, key_mask, causal=causal), (q, k, v))


def test_shorter_inputs_use_the_leading_block_of_the_table():
    attn = make()
    q, k, v = qkv(length=10)
    weights = attn.table0[:, :10, :10].detach().softmax(-1)
    torch.testing.assert_close(attn(q, k, v), weights @ v, atol=1e-12, rtol=1e-10)


def test_random_weights_ignore_the_input_and_are_shared_across_the_batch():
    q, k, v = qkv()
    for mode in ("random", "factorized_random"):
        attn = make(mode)
        out = attn(q, k, v)
        torch.testing.assert_close(out, attn(q * 3 + 1, k * 2, v), atol=1e-12, rtol=1e-10)
        swapped = attn(q, k, v.flip(0))  # same weights for every batch item
        torch.testing.assert_close(swapped, out.flip(0), atol=1e-12, rtol=1e-10)


def test_factorized_table_has_the_rank():
    attn = make("factorized_random")
    logits = attn.synthesised_logits(torch.zeros(1, 2, 20, 8, dtype=torch.float64))
    assert logits.shape == (1, 2, 20, 20)
    assert (torch.linalg.matrix_rank(logits[0]) <= 4).all()


def test_dense_row_depends_on_its_own_token_only():
    attn = make("dense")
    q, k, v = qkv()
    out = attn(q, k, v)
    assert out.shape == v.shape
    assert attn.synthesised_logits(q).shape == (2, 2, 20, 20)
    moved = q.clone()
    moved[:, :, 7] += 1.0
    changed = attn(moved, k, v)
    others = torch.arange(20) != 7
    torch.testing.assert_close(changed[:, :, others], out[:, :, others], atol=1e-12, rtol=1e-10)
    assert not torch.allclose(changed[:, :, 7], out[:, :, 7])


def test_frozen_table_is_a_buffer():
    attn = make(trainable=False)
    assert not list(attn.parameters()) and "table0" in dict(attn.named_buffers())


def test_longer_than_max_len_is_a_clear_error():
    q, k, v = qkv(length=33)
    with pytest.raises(ValueError, match="max_len=32"):
        make()(q, k, v)


@pytest.mark.parametrize("options", [
    {"mode": "dense"}, {"mode": "factorized_random", "rank": 3, "mix_dot_product": False},
    {"mode": "random", "trainable_random": False, "mix_dot_product": False},
])
def test_other_modes_ignore_padding_and_train(options):
    torch.manual_seed(0)
    mixer = build_mixer("synthesizer", dim=16, qkv_dim=16, num_heads=2, max_len=40, options=options).double()
    x = torch.randn(3, 29, 16, dtype=torch.float64)
    mask = padded_mask(3, 29, [29, 17, 5])
    noisy = torch.where(mask[..., None], x, torch.randn_like(x) * 10)
    torch.testing.assert_close(mixer(noisy, mask)[mask], mixer(x, mask)[mask], atol=1e-9, rtol=1e-9)
    mixer(x, mask).pow(2).sum().backward()
    # Without the dot product the wrapper's key projection (and, in random modes, the query one) is unused.
    used = [p for n, p in mixer.named_parameters() if n.startswith(("core.", "v_proj", "out_proj"))]
    assert len(used) == {"dense": 4, "factorized_random": 4, "random": 2}[options["mode"]]  # v, out + own
    for param in used:
        assert param.grad is not None and param.grad.abs().sum() > 0
