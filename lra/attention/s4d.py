"""S4D (Gu et al. 2022): a diagonal state-space *mixer*, not attention; it lives in this package so the
registry finds it, and it implements SequenceMixer directly.

Each of the H channels is a linear SSM with N/2 complex modes, S4D-Lin initialisation A_n = -1/2 + i pi n,
zero-order-hold discretisation, and the convolution kernel K_l = 2 Re sum_n C_n B_n A_n^l (B folded into
C). The sequence is convolved with K by FFT at size 2L (no circular wrap). Bidirectional (LRA's setting):
a second kernel runs backwards and sees strictly later inputs. Padded inputs are zeroed first, so padding
cannot flow backwards into real tokens. `scan_ref` is the slow recurrent twin used as the test oracle.
Parameters of the SSM carry `_optim` (lr 1e-3, no weight decay), as in the S4 LRA configs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import SequenceMixer
from lra.attention.options import OptionChecker
from lra.attention.registry import register_mixer


@dataclass
class S4DOptions:
    d_state: int = 64
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    bidirectional: bool = True
    dropout: float = 0.0
    ssm_lr: float = 1e-3

    def __post_init__(self) -> None:
        check = OptionChecker("s4d", self)
        check.integer("d_state", minimum=2)
        if self.d_state % 2:
            raise check.fail("d_state", "an even integer >= 2 (N/2 complex modes)")
        check.number("dt_min", minimum=0.0, above=True).number("dt_max", minimum=0.0, above=True)
        if self.dt_max < self.dt_min:
            raise check.fail("dt_max", f"a number >= dt_min={self.dt_min!r}")
        check.flag("bidirectional").probability("dropout").number("ssm_lr", minimum=0.0)


@register_mixer("s4d", S4DOptions, summary="diagonal state-space model, FFT convolution (a mixer)",
                test_options={"d_state": 8},
                causal=True)
class S4DMixer(SequenceMixer):
    def __init__(self, options: S4DOptions, dim: int, max_len: int, causal: bool = False) -> None:
        super().__init__()
        self.bidirectional = options.bidirectional and not causal
        channels, modes = (2 if self.bidirectional else 1), options.d_state // 2
        log_dt = torch.rand(channels, dim) * (math.log(options.dt_max) - math.log(options.dt_min))
        self.log_dt = nn.Parameter(log_dt + math.log(options.dt_min))
        self.log_a_real = nn.Parameter(torch.full((channels, dim, modes), math.log(0.5)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(modes).float().expand(channels, dim, modes).clone())
        self.c = nn.Parameter(torch.randn(channels, dim, modes, 2) * math.sqrt(0.5))
        self.d = nn.Parameter(torch.randn(dim))
        for param in (self.log_dt, self.log_a_real, self.a_imag, self.c):
            param._optim = {"lr": options.ssm_lr, "weight_decay": 0.0}
        self.dropout = nn.Dropout(options.dropout)
        self.output = nn.Conv1d(dim, 2 * dim, 1)

    def _discrete(self) -> tuple[Tensor, Tensor, Tensor]:
        """(A_bar, B_bar * C, dt A) as complex tensors of shape (channels, H, N/2), in the parameters'
        precision (complex64 for float32, as the reference S4 code; complex128 for float64). Half-precision
        parameters (a model converted with .to(bfloat16)) are computed from in float32: there is no complex
        bf16, and the powers A^l need the precision anyway."""
        dtype = torch.float32 if self.log_dt.dtype in (torch.float16, torch.bfloat16) else self.log_dt.dtype
        dt = torch.exp(self.log_dt.to(dtype))[..., None]
        a = torch.complex(-torch.exp(self.log_a_real.to(dtype)), self.a_imag.to(dtype))
        dt_a = a * dt
        c = torch.view_as_complex(self.c.to(dtype).contiguous())
        return torch.exp(dt_a), c * (torch.exp(dt_a) - 1) / a, dt_a

    def kernel(self, length: int) -> Tensor:
        """(channels, H, L) real kernel K_l = 2 Re sum_n C_n B_n A_n^l.

        With l = q * block + r, A^l = A^(q block) A^r: the sum over modes becomes a batched complex matmul
        (Q x N) @ (N x block), so only Q + block exponentials per mode are computed and the (H, N, L)
        Vandermonde matrix is never materialised.
        """
        _, cb, dt_a = self._discrete()
        block = max(1, math.isqrt(length))
        steps = -(-length // block)
        device = dt_a.device
        within = torch.exp(dt_a[..., None] * torch.arange(block, device=device))  # (c, H, N, block)
        across = torch.exp(dt_a[..., None] * (torch.arange(steps, device=device) * block))  # (c, H, N, Q)
        left = (cb[..., None] * across).transpose(-1, -2)  # (c, H, Q, N)
        kernel = (left @ within).reshape(*cb.shape[:2], steps * block)[..., :length]
        return 2 * kernel.real

    def convolve(self, u: Tensor) -> Tensor:
        """u (B, H, L) -> SSM output (B, H, L) by FFT, without the D skip."""
        length = u.shape[-1]
        k = self.kernel(length).to(u.dtype)
        if self.bidirectional:
            k = F.pad(k[0], (0, length)) + F.pad(k[1].flip(-1), (length, 0))
        else:
            k = F.pad(k[0], (0, length))
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * length) * torch.fft.rfft(k, n=2 * length), n=2 * length)
        return y[..., :length]

    def scan_ref(self, u: Tensor) -> Tensor:
        """The recurrent form of the forward (causal) channel: x_t = A x_{t-1} + B u_t, y_t = 2 Re(C x_t)."""
        a_bar, cb, _ = self._discrete()
        state = torch.zeros(u.shape[0], *cb.shape[1:], dtype=cb.dtype)
        ys = []
        for t in range(u.shape[-1]):
            state = a_bar[0] * state + u[..., t : t + 1].to(cb.dtype)
            ys.append(2 * (cb[0] * state).sum(-1).real)
        return torch.stack(ys, dim=-1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        u = x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)
        u = u.transpose(1, 2)
        compute = torch.float32 if u.dtype in (torch.float16, torch.bfloat16) else u.dtype
        y = self.convolve(u.to(compute)) + self.d.to(compute)[:, None] * u.to(compute)
        y = self.dropout(F.gelu(y)).to(x.dtype)
        y = F.glu(self.output(y), dim=1).transpose(1, 2)
        return y if mask is None else y * mask.unsqueeze(-1).to(y.dtype)


# The class's name before the naming scheme of lra/attention/base.py; kept for one release.
S4D = S4DMixer
