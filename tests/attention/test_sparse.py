from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.sparse import SparseAttention, SparseOptions
from tests.attention.helpers import padded_mask, random_qkv
from tests.attention.memory import LargestAllocation
from tests.helpers import assert_same_gradients


def make(pattern, block=4, summary=1, causal_pattern=False, causal=False):
    # summary_size sizes the fixed pattern only; strided refuses a non-default one
    extra = {"summary_size": summary} if pattern == "fixed" else {}
    return SparseAttention(SparseOptions(pattern, block, causal_pattern=causal_pattern, **extra),
                           AttentionContext(2, 8, 64, causal=causal))


qkv = partial(random_qkv, seed=2)


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
@pytest.mark.parametrize("causal_pattern", [False, True])
@pytest.mark.parametrize("length", [24, 27])
def test_equals_dense_attention_under_its_pattern(pattern, causal_pattern, length):
    attn = make(pattern, block=4, summary=1, causal_pattern=causal_pattern)
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 18])  # pads among the summary columns and inside a block
    got = attn(q, k, v, key_mask)
    oracle = partial(reference_attention, key_mask=key_mask, pattern=attn.dense_mask(length))
    want = oracle(q, k, v)
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v), rows=real)


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
def test_model_causal_flag_gives_the_causal_pattern(pattern):
    attn = make(pattern, block=5, summary=2, causal=True)
    q, k, v = qkv(23)
    oracle = partial(reference_attention, causal=True, pattern=attn.dense_mask(23))
    want = oracle(q, k, v)
    torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, oracle, (q, k, v))
    assert torch.equal(attn.dense_mask(23), make(pattern, 5, 2, causal_pattern=True).dense_mask(23))


def test_a_block_covering_the_sequence_is_full_attention():
    q, k, v = qkv(19)
    for pattern in ("fixed", "strided"):
        torch.testing.assert_close(make(pattern, block=19)(q, k, v), reference_attention(q, k, v),
                                   atol=1e-12, rtol=1e-10)
        assert_same_gradients(make(pattern, block=19), reference_attention, (q, k, v))


def test_fixed_mask_hand_enumerated():
    mask = make("fixed", block=4, summary=1).dense_mask(12)[0, 0].int()
    # own block, plus summary columns j % 4 in {0, 3}: 0, 3, 4, 7, 8, 11
    assert mask[5].tolist() == [1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1]
    assert mask[11].tolist() == [1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    causal = make("fixed", block=4, summary=1, causal_pattern=True).dense_mask(12)[0, 0].int()
    assert causal[5].tolist() == [1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert causal[0].tolist() == [1] + [0] * 11


def test_strided_mask_hand_enumerated():
    mask = make("strided", block=4).dense_mask(12)[0, 0].int()
    assert mask[5].tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]  # band |i-j| < 4 plus 1 and 9
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    causal = make("strided", block=4, causal_pattern=True).dense_mask(12)[0, 0].int()
    assert causal[9].tolist() == [0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
@pytest.mark.parametrize("causal_pattern", [False, True])
def test_every_row_has_a_key(pattern, causal_pattern):
    for length in (1, 5, 12, 37):
        mask = make(pattern, block=4, summary=1, causal_pattern=causal_pattern).dense_mask(length)[0, 0]
        assert mask.any(dim=-1).all() and mask.diagonal().all()


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
def test_no_dense_matrix_only_the_pattern_logits(pattern):
    # The largest tensor is the concatenated logits: L x (near + far keys), far below L x L.
    block, summary, length = 16, 2, 512
    attn = make(pattern, block=block, summary=summary)
    q, k, v = (t.float() for t in qkv(length, batch=1))
    with LargestAllocation() as probe:
        attn(q, k, v, torch.ones(1, length, dtype=torch.bool))
    n = length // block
    keys = block + n * (summary + 1) if pattern == "fixed" else 3 * block + n
    assert probe.bytes <= 2 * length * keys * 4 < 2 * length * length * 4 // 4


def test_strided_takes_a_block_below_the_fixed_patterns_summary():
    """strided does not use `summary_size`, so a block_size smaller than its default (10) is valid."""
    from lra.attention import build_mixer

    build_mixer("sparse", dim=16, qkv_dim=16, num_heads=2, max_len=32, options={"pattern": "strided", "block_size": 5})
    q, k, v = qkv(23)
    attn = SparseAttention(SparseOptions("strided", block_size=5), AttentionContext(2, 8, 64))
    oracle = partial(reference_attention, pattern=attn.dense_mask(23))
    want = oracle(q, k, v)
    torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, oracle, (q, k, v))
