import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.local import LocalAttention, LocalOptions


def make(window, causal=False, back=1, fwd=1):
    return LocalAttention(LocalOptions(window, back, fwd), AttentionContext(2, 8, 64, causal=causal))


def qkv(length, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3)]


def test_window_covering_the_sequence_is_full_attention():
    q, k, v = qkv(23)
    torch.testing.assert_close(make(23)(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(make(8, back=2, fwd=2)(q, k, v), reference_attention(q, k, v))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("length", [24, 29])
def test_equals_dense_attention_under_its_block_band(causal, length):
    q, k, v = qkv(length)
    key_mask = torch.ones(2, length, dtype=torch.bool)
    key_mask[1, 17:] = False
    attn = make(6, causal=causal)
    got = attn(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask, causal=causal, pattern=attn.dense_mask(length))
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)


def test_dense_mask_is_the_published_contiguous_pattern():
    mask = make(4).dense_mask(12)[0, 0]
    assert mask[0].tolist() == [True] * 8 + [False] * 4  # block 0 sees blocks 0 and 1
    assert mask[5].tolist() == [True] * 12  # block 1 sees 0, 1, 2
    assert mask[11].tolist() == [False] * 4 + [True] * 8
    causal = make(4, causal=True).dense_mask(12)[0, 0]
    assert causal[5].tolist() == [True] * 6 + [False] * 6


def test_memory_is_linear_in_length():
    # The largest intermediate is (B, H, n, w, 3w): doubling L doubles it rather than quadrupling.
    attn = make(16)
    sizes = []
    for length in (256, 512):
        q, k, v = qkv(length)
        saved: list[int] = []

        def pack(t, saved=saved):
            saved.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            attn(q.requires_grad_(), k, v)
        sizes.append(max(saved))
    assert sizes[1] <= 2 * sizes[0]
