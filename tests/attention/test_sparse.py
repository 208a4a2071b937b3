import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.sparse import SparseAttention, SparseOptions


def make(pattern, block=4, summary=1, causal_pattern=False):
    return SparseAttention(SparseOptions(pattern, block, summary, causal_pattern), AttentionContext(2, 8, 64))


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
@pytest.mark.parametrize("causal_pattern", [False, True])
@pytest.mark.parametrize("length", [24, 27])
def test_equals_dense_attention_under_its_pattern(pattern, causal_pattern, length):
    attn = make(pattern, block=4, summary=1, causal_pattern=causal_pattern)
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3))
    key_mask = torch.ones(2, length, dtype=torch.bool)
    key_mask[1, 18:] = False
    got = attn(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask, pattern=attn.dense_mask(length))
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)


def test_fixed_mask_hand_enumerated():
    mask = make("fixed", block=4, summary=1).dense_mask(12)[0, 0].int()
    # own block, plus summary columns j % 4 in {0, 3}: 0, 3, 4, 7, 8, 11
    assert mask[5].tolist() == [1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1]
    causal = make("fixed", block=4, summary=1, causal_pattern=True).dense_mask(12)[0, 0].int()
    assert causal[5].tolist() == [1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert bool(mask.diagonal().all()) and bool(causal.diagonal().all())


def test_strided_mask_hand_enumerated():
    mask = make("strided", block=4).dense_mask(12)[0, 0].int()
    assert mask[5].tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]  # band |i-j| < 4 plus 1 and 9
