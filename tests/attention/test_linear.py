from functools import partial

import pytest
import torch
from torch.nn import functional as F

from lra.attention.base import AttentionContext
from lra.attention.linear import LinearAttention, LinearOptions
from lra.attention.ops import kernel_attention
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def quadratic_form(q, k, v, key_mask=None, causal=False, eps=1e-6):
    """A = phi(Q) phi(K)^T (masked), O = A V / (A 1 + eps): the O(L^2) form written out."""
    scores = (F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-1, -2)
    if key_mask is not None:
        scores = scores * key_mask[:, None, None, :]
    if causal:
        scores = scores.tril()
    return (scores @ v) / (scores.sum(-1, keepdim=True) + eps)


def recurrence(q, k, v, eps=1e-6):
    """The causal RNN: S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t), one position at a time."""
    qf, kf = F.elu(q) + 1, F.elu(k) + 1
    state = torch.zeros(*q.shape[:2], q.shape[-1], v.shape[-1], dtype=q.dtype)
    z = torch.zeros(*q.shape[:2], q.shape[-1], dtype=q.dtype)
    outs = []
    for t in range(q.shape[2]):
        state = state + kf[:, :, t, :, None] * v[:, :, t, None, :]
        z = z + kf[:, :, t]
        num = torch.einsum("bhm,bhmd->bhd", qf[:, :, t], state)
        outs.append(num / (torch.einsum("bhm,bhm->bh", qf[:, :, t], z) + eps)[..., None])
    return torch.stack(outs, dim=2)


def make(causal=False, chunk_size=5):
    return LinearAttention(LinearOptions(chunk_size=chunk_size), AttentionContext(3, 8, 64, causal=causal))


qkv = partial(random_qkv, length=37, heads=3)


@pytest.mark.parametrize("causal", [False, True])
def test_equals_its_quadratic_form_with_padding(causal):
    q, k, v = qkv()
    key_mask = padded_mask(2, 37, [37, 20])
    key_mask[0, 3] = False  # a hole, not only trailing padding
    got = make(causal)(q, k, v, key_mask)
    torch.testing.assert_close(got, quadratic_form(q, k, v, key_mask, causal), atol=1e-12, rtol=1e-10)
    assert_same_gradients(partial(make(causal), key_mask=key_mask),
                          partial(quadratic_form, key_mask=key_mask, causal=causal), (q, k, v))


def test_causal_equals_the_explicit_recurrence_for_any_chunk():
    q, k, v = qkv(length=13)
    want = recurrence(q, k, v)
    for chunk in (1, 4, 13, 50):
        torch.testing.assert_close(make(True, chunk)(q, k, v), want, atol=1e-12, rtol=1e-10)
        assert_same_gradients(make(True, chunk), recurrence, (q, k, v))


def test_chunk_size_does_not_change_the_causal_result():
    g = torch.Generator().manual_seed(1)
    qf, kf = (torch.rand(1, 2, 30, 6, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(1, 2, 30, 4, generator=g, dtype=torch.float64)
    a = kernel_attention(qf, kf, v, causal=True, chunk_size=1)
    b = kernel_attention(qf, kf, v, causal=True, chunk_size=30)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_keys_and_values_can_be_permuted_together():
    q, k, v = qkv(length=20)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(2))
    attn = make()
    torch.testing.assert_close(attn(q, k[:, :, perm], v[:, :, perm]), attn(q, k, v), atol=1e-12, rtol=1e-10)


def test_non_finite_padding_cannot_leak():
    q, k, v = qkv(length=10)
    key_mask = padded_mask(2, 10, [6, 6])
    k_bad, v_bad = k.clone(), v.clone()
    k_bad[:, :, 6:], v_bad[:, :, 6:] = float("inf"), float("nan")
    for causal in (False, True):
        attn = make(causal)
        torch.testing.assert_close(attn(q, k_bad, v_bad, key_mask)[:, :, :6], attn(q, k, v, key_mask)[:, :, :6])


def test_runs_in_float32_under_bfloat16_autocast():
    q, k, v = (t.float() for t in qkv(length=16))
    want = make()(q, k, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = make()(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=3e-2)
