from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.recurrent import RecurrentAttention, RecurrentOptions, recurrent_ref
from lra.errors import LraError
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(segment_size, memory=1, causal=False):
    return RecurrentAttention(RecurrentOptions(segment_size, memory), AttentionContext(2, 8, 64, causal=causal))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("segment_size, memory", [(5, 1), (4, 2), (7, 0), (30, 1)])
def test_parallel_segments_equal_the_segment_by_segment_loop(causal, segment_size, memory):
    q, k, v = random_qkv(23)
    mask = padded_mask(2, 23, [23, 15])
    attn = make(segment_size, memory, causal)
    ref = partial(recurrent_ref, segment_size=segment_size, num_memory_segments=memory, causal=causal)
    rows = mask[:, None, :, None]
    torch.testing.assert_close(attn(q, k, v, mask) * rows, ref(q, k, v, mask) * rows, atol=1e-12, rtol=1e-10)
    # The same output gradient gives the same input gradients: the memory is cut in both.
    assert_same_gradients(lambda *t: attn(*t, mask), lambda *t: ref(*t, mask), (q, k, v), rows=rows)


def test_a_segment_covering_the_sequence_is_full_attention():
    q, k, v = random_qkv(20)
    torch.testing.assert_close(make(20)(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)


def test_no_gradient_flows_into_the_memory():
    q, k, v = (t.requires_grad_(True) for t in random_qkv(12))
    out = make(4)(q, k, v)
    out[:, :, 4:8].sum().backward()  # the second segment reads the first one from memory only
    assert float(k.grad[:, :, :4].abs().max()) == 0 and float(v.grad[:, :, :4].abs().max()) == 0
    assert float(k.grad[:, :, 4:8].abs().max()) > 0


def test_memory_reaches_exactly_the_segments_before():
    q, k, v = random_qkv(12)
    changed = v.clone()
    changed[:, :, 0:4] += 1.0  # segment 0
    one, two = make(4, memory=1), make(4, memory=2)
    assert torch.equal(one(q, k, v)[:, :, 8:], one(q, k, changed)[:, :, 8:])  # segment 2 sees segment 1 only
    assert not torch.allclose(two(q, k, v)[:, :, 8:], two(q, k, changed)[:, :, 8:])


def test_bad_options_are_refused():
    with pytest.raises(LraError, match="segment_size=0"):
        RecurrentOptions(0)
    with pytest.raises(LraError, match="num_memory_segments=-1"):
        RecurrentOptions(4, -1)
