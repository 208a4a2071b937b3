"""A gated long convolution: each channel convolved over the whole sequence with a damped-oscillation kernel
(computed by FFT in O(L log L)), gated by a second projection of the input, in the spirit of H3 and Hyena.

It is not in lra's zoo; it is here to show what a plugin needs: a SequenceMixer subclass whose `__init__`
takes (options, dim, max_len, causal), an `Options` dataclass, and an entry point in pyproject.toml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lra.attention import SequenceMixer
from lra.errors import LraError


@dataclass(frozen=True)
class GatedConvOptions:
    bidirectional: bool = True  # a second kernel runs right to left (off in causal mode)
    min_decay: float = 1e-3  # the slowest kernel's decay per token; the fastest decays at 0.5 per token

    def __post_init__(self) -> None:
        if not isinstance(self.bidirectional, bool):
            raise LraError(f"gated_conv option bidirectional={self.bidirectional!r}: expected true or false")
        if not isinstance(self.min_decay, (int, float)) or not 0 < self.min_decay < 0.5:
            raise LraError(f"gated_conv option min_decay={self.min_decay!r}: expected a number in (0, 0.5)")


class GatedConvMixer(SequenceMixer):
    """gated long convolution (damped-oscillation kernels by FFT)"""

    Options = GatedConvOptions
    causal = True  # it has a causal mode: the kernel then only looks back

    def __init__(self, options: GatedConvOptions, dim: int, max_len: int, causal: bool = False) -> None:
        super().__init__()
        directions = 2 if options.bidirectional and not causal else 1
        self.in_proj = nn.Linear(dim, 2 * dim)
        self.out_proj = nn.Linear(dim, dim)
        # Per channel and direction: a decay spread log-uniformly over [min_decay, 0.5] and a frequency.
        decay = torch.exp(torch.linspace(math.log(options.min_decay), math.log(0.5), dim))
        self.log_decay = nn.Parameter(decay.log().repeat(directions, 1))
        self.frequency = nn.Parameter(torch.rand(directions, dim) * math.pi / 8)
        self.skip = nn.Parameter(torch.ones(dim))
        self.max_len = max_len

    def kernels(self, length: int) -> Tensor:
        """(directions, D, L) kernels k[t] = exp(-decay t) cos(frequency t), normalised to unit absolute sum
        over max_len, then cut to `length`: normalising over `length` would make outputs depend on padding."""
        t = torch.arange(self.max_len, device=self.log_decay.device, dtype=torch.float32)
        k = torch.exp(-self.log_decay.exp()[..., None] * t) * torch.cos(self.frequency[..., None] * t)
        return (k / k.abs().sum(-1, keepdim=True))[..., :length]

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        u, gate = self.in_proj(x).chunk(2, dim=-1)
        if mask is not None:
            u = u * mask[..., None]  # padding contributes nothing to any real position
        length = x.shape[1]
        k = self.kernels(length)
        n = 2 * length  # zero-padded FFT: a linear (not circular) convolution
        spectrum = torch.fft.rfft(u.float().transpose(1, 2), n=n)
        y = torch.fft.irfft(spectrum * torch.fft.rfft(k[0], n=n), n=n)[..., :length]
        if k.shape[0] == 2:  # right to left: the same convolution on the reversed sequence
            reverse = torch.fft.rfft(u.float().flip(1).transpose(1, 2), n=n)
            y = y + torch.fft.irfft(reverse * torch.fft.rfft(k[1], n=n), n=n)[..., :length].flip(-1)
        y = y.transpose(1, 2).to(x.dtype) + u * self.skip
        out = self.out_proj(y * torch.nn.functional.silu(gate))
        return out if mask is None else out * mask[..., None]
