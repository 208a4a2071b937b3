import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.longformer import LongformerAttention, LongformerOptions


def make(window, globals_):
    torch.manual_seed(0)
    return LongformerAttention(LongformerOptions(window, globals_), AttentionContext(2, 8, 64)).double()


def qkv(length):
    g = torch.Generator().manual_seed(4)
    return [torch.randn(2, 2, length, 8, generator=g, dtype=torch.float64) for _ in range(3)]


def test_wide_window_without_globals_is_full_attention():
    q, k, v = qkv(21)
    torch.testing.assert_close(make(42, 0)(q, k, v), reference_attention(q, k, v), atol=1e-12, rtol=1e-10)


def test_band_or_global_pattern_and_global_rows():
    length = 29
    attn = make(6, 2)
    q, k, v = qkv(length)
    key_mask = torch.ones(2, length, dtype=torch.bool)
    key_mask[1, 20:] = False
    got = attn(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask, pattern=attn.dense_mask(length))
    real = key_mask[:, None, :, None].expand_as(got).clone()
    real[:, :, :2] = False  # global rows use their own projections
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=1e-10)
    proj = attn.global_qkv.detach()
    qg, kg, vg = (torch.einsum("bhld,hde->bhle", t, p) for t, p in zip((q, k, v), proj))
    torch.testing.assert_close(got[:, :, :2], reference_attention(qg, kg, vg, key_mask)[:, :, :2])


def test_every_token_sees_the_global_tokens_and_the_window_is_asymmetric():
    mask = make(6, 1).dense_mask(20)[0, 0]
    assert mask[:, 0].all() and mask[0].all()
    assert mask[10, 8:14].all() and not mask[10, 7] and not mask[10, 14]  # left 3 incl. self, right 3
