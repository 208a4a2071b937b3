import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.nystrom import NystromAttention, NystromOptions, iterative_pinv


def make(m, exact=False, iterations=6):
    return NystromAttention(NystromOptions(num_landmarks=m, exact_pinv=exact, pinv_iterations=iterations),
                            AttentionContext(2, 8, 64)).double()


def test_all_landmarks_with_exact_pinv_is_exact_softmax():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 24, 8, dtype=torch.float64) * 0.5 for _ in range(3))
    key_mask = torch.ones(2, 24, dtype=torch.bool)
    key_mask[1, 15:] = False
    got = make(24, exact=True)(q, k, v, key_mask)
    want = reference_attention(q, k, v, key_mask)
    real = key_mask[:, None, :, None].expand_as(got)
    torch.testing.assert_close(got[real], want[real], atol=1e-8, rtol=1e-6)


def test_iterative_pinv_converges_monotonically():
    torch.manual_seed(0)
    a = torch.randn(64, 64, dtype=torch.float64).softmax(-1)
    errors = [((a @ iterative_pinv(a, n) @ a - a).norm() / a.norm()).item() for n in (6, 10, 20)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-6, errors


def test_beats_the_uniform_baseline_on_clustered_inputs():
    torch.manual_seed(0)
    length, d = 256, 16
    centers = torch.randn(8, d, dtype=torch.float64) * 2.0
    cluster = torch.arange(length) // (length // 8)  # contiguous clusters, so segment means find them
    q = centers[cluster] + 0.1 * torch.randn(length, d, dtype=torch.float64)
    k = centers[cluster] + 0.1 * torch.randn(length, d, dtype=torch.float64)
    v = torch.randn(length, d, dtype=torch.float64)
    q, k, v = (t.expand(1, 2, length, d) for t in (q, k, v))
    exact = reference_attention(q, k, v)
    error = (make(16)(q, k, v) - exact).norm() / v.norm()
    baseline = (v.mean(dim=2, keepdim=True) - exact).norm() / v.norm()
    assert error < 0.5 * baseline, (float(error), float(baseline))
