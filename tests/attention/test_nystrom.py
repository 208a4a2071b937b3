from functools import partial

import pytest
import torch

from lra.attention import reference_attention
from lra.attention.base import AttentionContext
from lra.attention.nystrom import NystromAttention, NystromOptions, iterative_pinv
from lra.errors import LraError
from tests.attention.helpers import padded_mask, random_qkv
from tests.helpers import assert_same_gradients


def make(m, exact=False, iterations=6, conv=0):
    extra = {} if exact else {"pinv_iterations": iterations}  # the exact pinv refuses an iteration count
    options = NystromOptions(num_landmarks=m, exact_pinv=exact, conv_kernel_size=conv, **extra)
    return NystromAttention(options, AttentionContext(2, 8, 64)).double()


qkv = random_qkv


def explicit_nystrom(q, k, v, sizes, iterations=6):
    """One unpadded sequence (H, L, d), segments of the given sizes, the formula written out step by step."""
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    q_land = torch.stack([q[:, s:e].mean(1) for s, e in zip(bounds[:-1], bounds[1:])], dim=1)
    k_land = torch.stack([k[:, s:e].mean(1) for s, e in zip(bounds[:-1], bounds[1:])], dim=1)
    scale = q.shape[-1] ** -0.5
    f = (q @ k_land.transpose(-1, -2) * scale).softmax(-1)
    a = (q_land @ k_land.transpose(-1, -2) * scale).softmax(-1)
    b = (q_land @ k.transpose(-1, -2) * scale).softmax(-1)
    return f @ iterative_pinv(a, iterations) @ b @ v


@pytest.mark.parametrize("length", [24, 17])
def test_a_landmark_per_token_with_exact_pinv_is_exact_softmax(length):
    q, k, v = qkv(length)
    key_mask = padded_mask(2, length, [length, 11])
    key_mask[0, 2] = False
    for m in (length, 64):  # m = L, and m > L
        attn = make(m, exact=True)
        got = attn(q, k, v, key_mask)
        want = reference_attention(q, k, v, key_mask)
        real = key_mask[:, None, :].expand(-1, 2, -1)  # pad rows are zeroed by the wrapper
        torch.testing.assert_close(got[real], want[real], atol=1e-10, rtol=1e-10)
        # The backward of torch.linalg.pinv multiplies by A+ more than once, so rounding grows with the square
        # of A's condition number (2e4 for one head at length 24, where the gradients differ by 6e-7 of their
        # largest entry): 1e-6 here, 1e-9 elsewhere.
        assert_same_gradients(partial(attn, key_mask=key_mask), partial(reference_attention, key_mask=key_mask),
                              (q, k, v), rows=real[..., None], rtol=1e-6)


def test_uneven_segments_equal_the_explicit_formula():
    q, k, v = qkv(23)
    got = make(5)(q, k, v)
    want = explicit_nystrom(q[0], k[0], v[0], sizes=[5, 5, 4, 5, 4])  # floor(5r/23) runs
    torch.testing.assert_close(got[0], want, atol=1e-12, rtol=1e-10)
    key_mask = torch.zeros(2, 23, dtype=torch.bool)
    key_mask[1, :13] = True
    got = make(5)(q, k, v, key_mask)  # 13 real tokens: runs of 3, 3, 2, 3, 2 over the real part only
    want = explicit_nystrom(q[1, :, :13], k[1, :, :13], v[1, :, :13], sizes=[3, 3, 2, 3, 2])
    torch.testing.assert_close(got[1, :, :13], want, atol=1e-12, rtol=1e-10)


def test_iterative_pinv_converges_monotonically():
    a = torch.randn(64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64).softmax(-1)
    steps = (1, 3, 6, 9, 12, 20)
    errors = [((a @ iterative_pinv(a, n) @ a - a).norm() / a.norm()).item() for n in steps]
    assert all(x > y for x, y in zip(errors, errors[1:])), errors
    assert errors[2] > 1e-3 and errors[-1] < 1e-6, errors  # 6 steps are a rough inverse; 20 converge


def test_beats_the_uniform_baseline_on_clustered_inputs():
    g = torch.Generator().manual_seed(0)
    length, d = 256, 16
    centers = torch.randn(8, d, generator=g, dtype=torch.float64) * 2.0
    cluster = torch.arange(length) // (length // 8)  # contiguous clusters, so segment means find them
    q = centers[cluster] + 0.1 * torch.randn(length, d, generator=g, dtype=torch.float64)
    k = centers[cluster] + 0.1 * torch.randn(length, d, generator=g, dtype=torch.float64)
    v = torch.randn(length, d, generator=g, dtype=torch.float64)
    q, k, v = (t.expand(1, 2, length, d) for t in (q, k, v))
    exact = reference_attention(q, k, v)
    attn = NystromAttention(NystromOptions(num_landmarks=16), AttentionContext(2, d, length)).double()
    error = (attn(q, k, v) - exact).norm() / v.norm()
    baseline = (v.mean(dim=2, keepdim=True) - exact).norm() / v.norm()
    assert error < 0.5 * baseline, (float(error), float(baseline))


def test_convolution_skip_adds_a_depthwise_convolution_of_v():
    q, k, v = qkv(12)
    attn = make(4, conv=3)
    with torch.no_grad():
        attn.conv.weight.zero_()
        attn.conv.weight[:, 0, 1, 0] = 2.0  # the centre tap: conv(v) = 2 v
    torch.testing.assert_close(attn(q, k, v), make(4)(q, k, v) + 2 * v, atol=1e-12, rtol=1e-10)
    with pytest.raises(LraError, match="conv_kernel_size=4: expected 0 .off. or an odd integer"):
        make(4, conv=4)


def test_runs_in_float32_under_bfloat16_autocast():
    q, k, v = (t.float() for t in qkv(16))
    attn = make(4).float()
    want = attn(q, k, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = attn(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, atol=5e-2, rtol=5e-2)


@pytest.mark.parametrize("conv", [0, 3])
def test_unpadded_fast_path_equals_the_masked_path(conv):
    """No mask and L a multiple of m take the plain-mean path; an all-true mask takes the general one."""
    layer = make(4, conv=conv)
    q, k, v = qkv(32, seed=3)
    fast = layer(q, k, v)
    general = layer(q, k, v, torch.ones(2, 32, dtype=torch.bool))
    torch.testing.assert_close(fast, general, rtol=1e-12, atol=1e-12)
    assert_same_gradients(layer, partial(layer, key_mask=torch.ones(2, 32, dtype=torch.bool)), (q, k, v),
                          params=list(layer.parameters()))
    sizes = [8, 8, 8, 8]
    for i in range(2):
        torch.testing.assert_close(fast[i], explicit_nystrom(q[i], k[i], v[i], sizes) + (
            layer.conv(v)[i] if conv else 0), rtol=1e-10, atol=1e-10)
