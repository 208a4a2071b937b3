import torch
from torch.nn import functional as F

from lra.attention.base import AttentionContext
from lra.attention.linear import LinearAttention, LinearOptions, kernel_attention


def quadratic_form(q, k, v, key_mask=None, causal=False, eps=1e-6):
    qf, kf = F.elu(q) + 1, F.elu(k) + 1
    scores = qf @ kf.transpose(-1, -2)
    if key_mask is not None:
        scores = scores * key_mask[:, None, None, :]
    if causal:
        scores = scores.tril()
    return (scores @ v) / (scores.sum(-1, keepdim=True) + eps)


def test_equals_its_quadratic_form_with_padding_and_causal():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 37, 8, dtype=torch.float64) for _ in range(3))
    key_mask = torch.ones(2, 37, dtype=torch.bool)
    key_mask[1, 20:] = False
    for causal in (False, True):
        core = LinearAttention(LinearOptions(chunk=5), AttentionContext(3, 8, 64, causal=causal))
        got = core(q, k, v, None if causal else key_mask)
        want = quadratic_form(q, k, v, None if causal else key_mask, causal)
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-10)


def test_chunk_size_does_not_change_the_causal_result():
    torch.manual_seed(1)
    qf, kf = torch.rand(1, 2, 30, 6, dtype=torch.float64), torch.rand(1, 2, 30, 6, dtype=torch.float64)
    v = torch.randn(1, 2, 30, 4, dtype=torch.float64)
    a = kernel_attention(qf, kf, v, causal=True, chunk=1)
    b = kernel_attention(qf, kf, v, causal=True, chunk=30)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
