import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.synthesizer import SynthesizerAttention, SynthesizerOptions


def make(mode="random", mix=False, causal=False):
    return SynthesizerAttention(SynthesizerOptions(mode=mode, rank=4, mix_dot_product=mix),
                                AttentionContext(2, 8, 32, causal=causal)).double()


def qkv(length=20):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3)]


def test_zero_random_table_is_uniform_over_real_keys():
    attn = make()
    with torch.no_grad():
        attn.table0.zero_()
    q, k, v = qkv()
    key_mask = torch.ones(2, 20, dtype=torch.bool)
    key_mask[1, 12:] = False
    out = attn(q, k, v, key_mask)
    torch.testing.assert_close(out[1], v[1, :, :12].mean(dim=1, keepdim=True).expand(-1, 20, -1))


@pytest.mark.parametrize("causal", [False, True])
def test_zero_table_plus_dot_product_is_exact_attention(causal):
    attn = make(mix=True, causal=causal)
    with torch.no_grad():
        attn.table0.zero_()
    q, k, v = qkv()
    key_mask = torch.ones(2, 20, dtype=torch.bool)
    key_mask[0, 15:] = False
    got, want = attn(q, k, v, key_mask), reference_attention(q, k, v, key_mask, causal=causal)
    torch.testing.assert_close(got[:, :, :15], want[:, :, :15], atol=1e-12, rtol=1e-10)


def test_random_modes_ignore_the_input_and_dense_depends_on_it():
    q, k, v = qkv()
    for mode in ("random", "factorized_random"):
        attn = make(mode)
        torch.testing.assert_close(attn(q, k, v), attn(q * 3 + 1, k * 2, v))  # weights do not see q or k
    dense = make("dense")
    assert not torch.allclose(dense(q, k, v), dense(q * 3 + 1, k, v))
    assert dense(q, k, v).shape == v.shape
