import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.linformer import LinformerAttention, LinformerOptions
from lra.errors import LraError


def make(max_len, k, share=True):
    return LinformerAttention(LinformerOptions(k=k, share_kv=share), AttentionContext(2, 8, max_len)).double()


def qkv(length, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3)]


def test_identity_projection_is_full_attention():
    attn = make(16, 16)
    with torch.no_grad():
        attn.proj_k.copy_(torch.eye(16))
    q, k, v = qkv(16)
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)


def test_permutation_projection_is_full_attention_and_shorter_inputs_use_a_prefix():
    attn = make(20, 20)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        attn.proj_k.copy_(torch.eye(20)[perm])
    q, k, v = qkv(20)
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)
    with torch.no_grad():
        attn.proj_k.copy_(torch.eye(20))
    q, k, v = qkv(13)  # rows 0..12 of I: 13 exact keys plus 7 all-zero summaries
    zeros = torch.zeros(2, 2, 7, 8, dtype=torch.float64)
    want = reference_attention(q, torch.cat([k, zeros], 2), torch.cat([v, zeros], 2))
    torch.testing.assert_close(attn(q, k, v), want, atol=1e-12, rtol=1e-10)


def test_segment_means_equal_attention_over_segment_means():
    attn = make(12, 3, share=False)
    segments = torch.zeros(12, 3, dtype=torch.float64)
    for j in range(3):
        segments[4 * j : 4 * j + 4, j] = 0.25
    with torch.no_grad():
        attn.proj_k.copy_(segments)
        attn.proj_v.copy_(segments)
    q, k, v = qkv(12)
    k_mean = k.view(2, 2, 3, 4, 8).mean(3)
    v_mean = v.view(2, 2, 3, 4, 8).mean(3)
    torch.testing.assert_close(attn(q, k, v), reference_attention(q, k_mean, v_mean), atol=1e-12, rtol=1e-10)


def test_longer_than_max_len_is_a_clear_error():
    q, k, v = qkv(17)
    with pytest.raises(LraError, match="max_len=16"):
        make(16, 4)(q, k, v)
