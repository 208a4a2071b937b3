from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.longformer import LongformerAttention, LongformerOptions
from tests.attention.helpers import padded_mask, random_qkv
from tests.attention.memory import LargestAllocation
from tests.helpers import assert_same_gradients


def make(window, globals_):
    torch.manual_seed(0)
    return LongformerAttention(LongformerOptions(window, globals_), AttentionContext(2, 8, 64)).double()


qkv = partial(random_qkv, seed=4)


def test_wide_window_without_globals_is_full_attention():
    q, k, v = qkv(21)
    for window in (42, 60):
        torch.testing.assert_close(make(window, 0)(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
        assert_same_gradients(make(window, 0), reference_attention, (q, k, v))


@pytest.mark.parametrize("window", [1, 5, 6, 7])
@pytest.mark.parametrize("globals_", [0, 2])
def test_band_or_global_pattern_and_global_rows(window, globals_):
    length = 29
    attn = make(window, globals_)
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 20])
    key_mask[1, 9] = False  # a pad inside the band
    got = attn(q, k, v, key_mask)
    oracle = partial(reference_attention, key_mask=key_mask, pattern=attn.dense_mask(length))
    want = oracle(q, k, v)
    real = key_mask[:, None, :, None].expand_as(got).clone()
    real[:, :, :globals_] = False  # global rows use their own projections
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v), rows=real)
    if globals_:
        proj = attn.global_qkv.detach()

        def global_oracle(q, k, v):
            qg, kg, vg = (torch.einsum("bhld,hde->bhle", t, p) for t, p in zip((q, k, v), proj))
            return reference_attention(qg, kg, vg, key_mask)

        want_rows = global_oracle(q, k, v)[:, :, :globals_]
        torch.testing.assert_close(got[:, :, :globals_], want_rows, atol=1e-12, rtol=1e-10)
        rows = torch.zeros(1, 1, length, 1, dtype=torch.bool)
        rows[:, :, :globals_] = True
        assert_same_gradients(partial(attn, key_mask=key_mask), global_oracle, (q, k, v), rows=rows)


def test_every_token_sees_the_global_tokens_and_the_window_is_asymmetric():
    mask = make(6, 1).dense_mask(20)[0, 0]
    assert mask[:, 0].all() and mask[0].all()
    assert mask[10, 8:14].all() and not mask[10, 7] and not mask[10, 14]  # left 3 incl. self, right 3
    mask = make(5, 0).dense_mask(20)[0, 0]
    assert mask[10, 8:13].all() and mask[10].sum() == 5  # left 3 incl. self, right 2


def test_a_far_token_depends_on_the_global_token_only_through_globals():
    q, k, v = qkv(30, batch=1)
    changed = v.clone()
    changed[:, :, 0] += 1.0
    for globals_, sees in ((1, True), (0, False)):
        attn = make(4, globals_)
        moved = (attn(q, k, changed) - attn(q, k, v))[:, :, 10:].abs().amax(dim=-1)
        assert bool((moved > 1e-6).all()) == sees and bool((moved == 0).all()) != sees


def test_memory_is_linear_in_length_and_no_dense_matrix():
    attn = make(32, 1).float()
    sizes = []
    for length in (512, 1024):
        q, k, v = (t.float() for t in qkv(length, batch=1))
        with LargestAllocation() as probe:
            attn(q, k, v, torch.ones(1, length, dtype=torch.bool))
        sizes.append(probe.bytes)
        assert probe.bytes <= 2 * length * (3 * 16 + 1) * 4  # heads x L x (3 chunks of 16 + 1 global)
    assert sizes[1] <= 2 * sizes[0]


def test_written_out_weights_rebuild_every_row_including_the_global_ones():
    """What `lra span` reads: softmax_weights times the values each row uses (v for band rows, v through the
    global map for global rows) is the output."""
    length = 23
    attn = make(6, 2)
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 17])
    out = attn(q, k, v, key_mask)
    weights = attn.softmax_weights(q, k, key_mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights[..., 0]))
    vg = torch.einsum("bhld,hde->bhle", v, attn.global_qkv.detach()[2])
    rebuilt = torch.cat([(weights @ vg)[:, :, :2], (weights @ v)[:, :, 2:]], dim=2)
    real = key_mask[:, None, :, None].expand_as(out)
    torch.testing.assert_close(rebuilt[real], out[real], atol=1e-12, rtol=1e-10)
