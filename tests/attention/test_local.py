from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.local import LocalAttention, LocalOptions
from lra.errors import LraError
from tests.attention.helpers import padded_mask, random_qkv
from tests.attention.memory import LargestAllocation
from tests.helpers import assert_same_gradients


def make(block_size, causal=False, back=1, fwd=1):
    return LocalAttention(LocalOptions(block_size, back, fwd), AttentionContext(2, 8, 64, causal=causal))


qkv = random_qkv


@pytest.mark.parametrize("causal", [False, True])
def test_block_covering_the_sequence_is_full_attention(causal):
    q, k, v = qkv(23)
    want = reference_attention(q, k, v, causal=causal)
    torch.testing.assert_close(make(23, causal)(q, k, v), want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(make(40, causal)(q, k, v), want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(make(8, causal, back=2, fwd=0 if causal else 2)(q, k, v), want,
                               atol=1e-12, rtol=1e-10)
    for attn in (make(23, causal), make(40, causal), make(8, causal, back=2, fwd=0 if causal else 2)):
        assert_same_gradients(attn, partial(reference_attention, causal=causal), (q, k, v))


def test_look_forward_in_causal_mode_is_refused():
    with pytest.raises(LraError, match="look_forward=2.*causal"):
        make(8, causal=True, fwd=2)
    make(8, causal=True, fwd=0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("length", [24, 29, 5])
def test_equals_dense_attention_under_its_block_band(causal, length):
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 17])
    key_mask[1, 3] = False  # a pad inside a block
    attn = make(6, causal=causal)
    got = attn(q, k, v, key_mask)
    oracle = partial(reference_attention, key_mask=key_mask, causal=causal, pattern=attn.dense_mask(length))
    want = oracle(q, k, v)
    real = key_mask[:, None, :, None].expand_as(got)
    assert got.shape == q.shape
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v), rows=real)


def test_other_look_around_settings_match_their_dense_mask():
    q, k, v = qkv(31)
    for back, fwd in [(0, 0), (2, 0), (0, 1), (1, 2)]:
        attn = make(4, back=back, fwd=fwd)
        oracle = partial(reference_attention, pattern=attn.dense_mask(31))
        want = oracle(q, k, v)
        torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)
        assert_same_gradients(attn, oracle, (q, k, v))


def test_dense_mask_is_the_published_contiguous_pattern():
    mask = make(4).dense_mask(12)[0, 0]
    assert mask[0].tolist() == [True] * 8 + [False] * 4  # block 0 sees blocks 0 and 1
    assert mask[5].tolist() == [True] * 12  # block 1 sees 0, 1, 2
    assert mask[11].tolist() == [False] * 4 + [True] * 8
    causal = make(4, causal=True).dense_mask(12)[0, 0]
    assert causal[5].tolist() == [True] * 6 + [False] * 6
    assert causal[9].tolist() == [False] * 4 + [True] * 6 + [False] * 2


def test_memory_is_linear_in_length_and_no_dense_matrix():
    attn = make(16)
    sizes = []
    for length in (512, 1024):
        q, k, v = (t.float() for t in qkv(length, batch=1))
        with LargestAllocation() as probe:
            attn(q, k, v, torch.ones(1, length, dtype=torch.bool))
        sizes.append(probe.bytes)
        assert probe.bytes <= 2 * length * 3 * 16 * 4  # heads x L x (3 blocks of keys) logits
    assert sizes[1] <= 2 * sizes[0]
