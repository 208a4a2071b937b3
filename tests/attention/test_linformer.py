from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.linformer import LinformerAttention, LinformerOptions
from lra.errors import LraError
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(max_len, k, share=True):
    return LinformerAttention(LinformerOptions(projected_size=k, share_kv=share),
                              AttentionContext(2, 8, max_len)).double()


qkv = random_qkv


def set_projections(attn, e, f=None):
    with torch.no_grad():
        attn.proj_k.copy_(e)
        if f is not None:
            attn.proj_v.copy_(f)


def test_identity_projection_is_full_attention():
    attn = make(16, 16)
    set_projections(attn, torch.eye(16))
    q, k, v = qkv(16)
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, reference_attention, (q, k, v))


def test_permutation_projections_are_full_attention():
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(3))
    q, k, v = qkv(20)
    shared = make(20, 20)
    set_projections(shared, torch.eye(20)[perm])
    torch.testing.assert_close(shared(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    separate = make(20, 20, share=False)  # E = F = the same permutation, held in two parameters
    set_projections(separate, torch.eye(20)[perm], torch.eye(20)[perm])
    torch.testing.assert_close(separate(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    for attn in (shared, separate):
        assert_same_gradients(attn, reference_attention, (q, k, v))


def test_shorter_inputs_use_the_first_rows_only():
    attn = make(20, 13)
    tail = torch.randn(7, 13, dtype=torch.float64)
    set_projections(attn, torch.cat([torch.eye(13, dtype=torch.float64), tail]))
    q, k, v = qkv(13)  # E[:13] = I: exact, whatever rows 13..19 hold
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, reference_attention, (q, k, v))


def test_segment_means_equal_attention_over_segment_means():
    attn = make(12, 3, share=False)
    segments = torch.zeros(12, 3, dtype=torch.float64)
    for j in range(3):
        segments[4 * j : 4 * j + 4, j] = 0.25
    set_projections(attn, segments, segments)
    q, k, v = qkv(12)

    def over_segment_means(q, k, v):
        return reference_attention(q, k.view(2, 2, 3, 4, 8).mean(3), v.view(2, 2, 3, 4, 8).mean(3))

    torch.testing.assert_close(attn(q, k, v), over_segment_means(q, k, v), atol=1e-12, rtol=1e-10)
    assert_same_gradients(attn, over_segment_means, (q, k, v))


def test_padded_keys_and_values_are_zeroed_before_projecting():
    attn = make(16, 16)
    set_projections(attn, torch.eye(16))
    q, k, v = qkv(16)
    key_mask = padded_mask(2, 16, [16, 10])
    zero = torch.zeros(2, 2, 16, 8, dtype=torch.float64)
    pads = ~key_mask[:, None, :, None]

    def oracle(q, k, v):
        return reference_attention(q, torch.where(pads, zero, k), torch.where(pads, zero, v))  # pads = zero summaries

    want = oracle(q, k, v)
    noisy_k, noisy_v = torch.where(pads, 1e3, k), torch.where(pads, float("inf"), v)
    torch.testing.assert_close(attn(q, noisy_k, noisy_v, key_mask), want, atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(attn, key_mask=key_mask), oracle, (q, k, v))


def test_longer_than_max_len_is_a_clear_error():
    q, k, v = qkv(17)
    with pytest.raises(ValueError, match="max_len=16") as error:
        make(16, 4)(q, k, v)
    assert isinstance(error.value, LraError)  # printed as one line by the CLI
