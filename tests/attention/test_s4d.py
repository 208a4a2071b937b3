import numpy as np
import torch

from lra.attention.s4d import S4DMixer, S4DOptions
from tests.helpers import assert_same_gradients


def make(bidirectional=False, causal=False, dim=3, n=16):
    torch.manual_seed(0)
    return S4DMixer(S4DOptions(d_state=n, bidirectional=bidirectional), dim=dim, max_len=256, causal=causal).double()


def test_fft_convolution_equals_the_recurrent_scan():
    ssm = make()
    u = torch.randn(2, 3, 200, dtype=torch.float64)
    torch.testing.assert_close(ssm.convolve(u), ssm.scan_ref(u), atol=1e-10, rtol=1e-8)


def test_fft_convolution_gradients_equal_the_recurrent_scan():
    """One random output gradient through the FFT convolution and through scan_ref: the same gradients of the
    input and of the SSM's parameters (dt, A's real and imaginary parts, C)."""
    ssm = make()
    u = torch.randn(2, 3, 200, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    params = [ssm.log_dt, ssm.log_a_real, ssm.a_imag, ssm.c]
    assert_same_gradients(ssm.convolve, ssm.scan_ref, (u,), params=params)


def test_fft_convolution_equals_direct_convolution():
    ssm = make()
    u = torch.randn(1, 3, 50, dtype=torch.float64)
    k = ssm.kernel(50).detach().numpy()[0]
    direct = np.stack([np.convolve(u[0, h].numpy(), k[h])[:50] for h in range(3)])
    np.testing.assert_allclose(ssm.convolve(u)[0].detach().numpy(), direct, atol=1e-10)


def test_kernel_prefix_and_stability():
    ssm = make()
    short, long = ssm.kernel(40), ssm.kernel(400)
    torch.testing.assert_close(short, long[..., :40])
    a_bar, _, _ = ssm._discrete()
    assert (a_bar.abs() < 1).all()
    assert long[..., -50:].abs().max() < long[..., :50].abs().max()


def test_reverse_branch_sees_strictly_later_inputs():
    ssm = make(bidirectional=True)
    length = 30
    u = torch.randn(1, 3, length, dtype=torch.float64)
    k = ssm.kernel(length)
    expected = torch.zeros(1, 3, length, dtype=torch.float64)
    for t in range(length):
        for j in range(length):
            if j <= t:
                expected[..., t] += k[0, :, j] * u[..., t - j]
            if t + 1 + j < length:
                expected[..., t] += k[1, :, j] * u[..., t + 1 + j]
    torch.testing.assert_close(ssm.convolve(u), expected, atol=1e-10, rtol=1e-8)


class KernelOf(torch.nn.Module):
    def __init__(self, ssm):
        super().__init__()
        self.ssm = ssm

    def forward(self, length):
        return self.ssm.kernel(length)


def test_kernel_gradcheck():
    wrapper = KernelOf(make(dim=2, n=4))

    def kernel_of(log_dt, log_a_real, c):
        params = {"ssm.log_dt": log_dt, "ssm.log_a_real": log_a_real, "ssm.c": c}
        return torch.func.functional_call(wrapper, params, (6,))

    ssm = wrapper.ssm
    inputs = tuple(p.detach().clone().requires_grad_(True) for p in (ssm.log_dt, ssm.log_a_real, ssm.c))
    assert torch.autograd.gradcheck(kernel_of, inputs)


def test_ssm_parameters_are_tagged_for_their_own_optimizer_group():
    ssm = make()
    tagged = {name for name, p in ssm.named_parameters() if hasattr(p, "_optim")}
    assert tagged == {"log_dt", "log_a_real", "a_imag", "c"}
