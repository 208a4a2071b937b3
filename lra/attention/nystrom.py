"""Nystromformer (Xiong et al. 2021): softmax attention approximated through m landmarks,
out = softmax(Q K~^T) pinv(softmax(Q~ K~^T)) softmax(Q~ K^T) V, with Q~ and K~ segment means of the real
queries and keys. The pseudo-inverse is the iterative Newton-Schulz one (6 steps), which also acts as a
regulariser; `exact_pinv` uses torch.linalg.pinv. With m = L and an exact pinv the result is exact softmax
attention. Kernels run in float32 at least, even under autocast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore, masked_fill_value
from lra.attention.registry import register_attention


def iterative_pinv(a: Tensor, iterations: int = 6) -> Tensor:
    """Newton-Schulz iteration for the Moore-Penrose inverse of a batch of square matrices."""
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    norm = a.abs().sum(-1).amax(-1) * a.abs().sum(-2).amax(-1)
    z = a.transpose(-1, -2) / norm[..., None, None]
    for _ in range(iterations):
        az = a @ z
        z = 0.25 * z @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


def _softmax(logits: Tensor, keep: Tensor) -> Tensor:
    return logits.masked_fill(~keep, masked_fill_value(logits.dtype)).softmax(dim=-1) * keep


@dataclass
class NystromOptions:
    num_landmarks: int = 64
    pinv_iterations: int = 6
    exact_pinv: bool = False
    conv_kernel_size: int = 0  # > 0: depthwise convolution of V added to the output (33-35 in LRA ports)


@register_attention("nystrom", NystromOptions, summary="Nystrom landmark approximation of softmax",
                    test_options={"num_landmarks": 4, "conv_kernel_size": 3})
class NystromAttention(AttentionCore):
    length_dependent = True
    def __init__(self, options: NystromOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        size = options.conv_kernel_size
        self.conv = nn.Conv2d(ctx.num_heads, ctx.num_heads, (size, 1), padding=(size // 2, 0), bias=False,
                              groups=ctx.num_heads) if size > 0 else None

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        out_dtype = v.dtype
        dtype = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
        b, h, length, d = q.shape
        real = torch.ones(b, length, dtype=torch.bool, device=q.device) if key_mask is None else key_mask
        weight = real[:, None, :, None].to(dtype)
        q, k = q * weight, k * weight
        m = min(self.options.num_landmarks, length)
        seg = math.ceil(length / m)
        m = math.ceil(length / seg)
        pad = m * seg - length
        counts = F.pad(weight, (0, 0, 0, pad)).view(b, 1, m, seg, 1).sum(3)  # real tokens per segment
        q_land = F.pad(q, (0, 0, 0, pad)).view(b, h, m, seg, d).sum(3) / counts.clamp(min=1)
        k_land = F.pad(k, (0, 0, 0, pad)).view(b, h, m, seg, d).sum(3) / counts.clamp(min=1)
        land_ok = (counts[..., 0] > 0).expand(b, h, m)  # segments holding at least one real token
        scale = 1.0 / math.sqrt(d)
        kernel_1 = _softmax(q @ k_land.transpose(-1, -2) * scale, land_ok[:, :, None, :])
        both = land_ok[:, :, :, None] & land_ok[:, :, None, :]
        kernel_2 = _softmax(q_land @ k_land.transpose(-1, -2) * scale, both)
        # Landmarks of all-padding segments become identity rows: decoupled from the valid block.
        eye = torch.eye(m, dtype=dtype, device=q.device)
        kernel_2 = torch.where(both, kernel_2, eye * (~land_ok[:, :, :, None]))
        kernel_3 = _softmax(q_land @ k.transpose(-1, -2) * scale, real[:, None, None, :]) * land_ok[..., None]
        inverse = torch.linalg.pinv(kernel_2) if self.options.exact_pinv else iterative_pinv(
            kernel_2, self.options.pinv_iterations)
        out = kernel_1 @ (inverse @ (kernel_3 @ v))
        if self.conv is not None:
            out = out + self.conv(v * weight)
        return out.to(out_dtype)
