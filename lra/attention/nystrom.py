"""Nystromformer (Xiong et al. 2021): softmax attention approximated through m landmarks,
out = softmax(Q K~^T) pinv(softmax(Q~ K~^T)) softmax(Q~ K^T) V, where Q~ and K~ are segment means.

Segments: the real tokens of each sequence are split, in order, into m runs whose sizes differ by at most
one (the xformers way of handling L not divisible by m, but per sequence). Pads are zeroed and belong to no
segment, so the landmarks, and the output, depend neither on pad content nor on how much trailing padding
there is. If a sequence has fewer real tokens than m, every token is its own landmark and the spare landmarks
are switched off (masked in the first kernel, an identity block in the pinv); with m >= L and an exact pinv
this is exactly softmax attention (F A+ B = A A+ A = A), with or without padding. Keys are masked in B.

The pseudo-inverse is the iterative Newton-Schulz one (6 steps; it also regularises: an exact pinv of an
ill-conditioned A can blow up), initialised per matrix (not with a batch-wide maximum, which would couple
the batch items); `exact_pinv` uses torch.linalg.pinv. Kernels run in float32 at least, autocast off.
LRA had no Nystromformer; the defaults follow the xformers LRA config (128 landmarks); mlpen's LRA runs add
a depthwise convolution of V with `conv_kernel_size=35` (0 here turns it off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import full_precision, masked_fill_value, zero_padded
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


def iterative_pinv(a: Tensor, iterations: int = 6) -> Tensor:
    """Newton-Schulz (Razavi et al.) iteration for the Moore-Penrose inverse of a batch of square matrices,
    started from Z0 = A^T / (|A|_1 |A|_inf) of each matrix."""
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    norm = a.abs().sum(-1).amax(-1) * a.abs().sum(-2).amax(-1)
    z = a.transpose(-1, -2) / norm[..., None, None]
    for _ in range(iterations):
        az = a @ z
        z = 0.25 * z @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


def segment_assignment(real: Tensor, m: int, dtype: torch.dtype) -> Tensor:
    """(B, L, m) weights: 1/size of its segment for a real token, 0 for a pad; columns average a segment.

    The r-th of n real tokens goes to segment floor(r m / n): m runs in order, sizes differing by <= 1.
    """
    count = real.sum(-1, keepdim=True).clamp(min=1)
    rank = real.long().cumsum(-1) - 1
    segment = torch.div(rank.clamp(min=0) * m, count, rounding_mode="floor")
    onehot = F.one_hot(segment, m).to(dtype) * real[..., None].to(dtype)
    sizes = onehot.sum(1, keepdim=True)
    return onehot / sizes.clamp(min=1)


def _softmax(logits: Tensor, keep: Tensor) -> Tensor:
    return logits.masked_fill(~keep, masked_fill_value(logits.dtype)).softmax(dim=-1) * keep


@dataclass
class NystromOptions:
    num_landmarks: int = 128  # xformers' LRA config (mlpen ran 32..256)
    pinv_iterations: int = 6
    exact_pinv: bool = False  # torch.linalg.pinv instead of the iteration (for tests; unstable in training)
    conv_kernel_size: int = 0  # odd > 0: depthwise convolution of V added to the output (35 in mlpen's LRA)

    def __post_init__(self) -> None:
        check = OptionChecker("nystrom", self)
        check.integer("num_landmarks", minimum=1).integer("pinv_iterations", minimum=0).flag("exact_pinv")
        check.unused_unless("pinv_iterations", "exact_pinv", (False,))
        size = self.conv_kernel_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or (size > 0 and size % 2 == 0):
            raise check.fail("conv_kernel_size", "0 (off) or an odd integer >= 1 (the convolution is centred)")


@register_attention("nystrom", NystromOptions, summary="Nystrom landmark approximation of softmax",
                    test_options={"num_landmarks": 4, "conv_kernel_size": 3})
class NystromAttention(AttentionCore):
    def __init__(self, options: NystromOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        size = options.conv_kernel_size
        self.options = options
        self.conv = nn.Conv2d(ctx.num_heads, ctx.num_heads, (size, 1), padding=(size // 2, 0), bias=False,
                              groups=ctx.num_heads) if size > 0 else None

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        out_dtype = v.dtype
        dtype, no_autocast = full_precision(q)
        with no_autocast:
            out = self._attend(q.to(dtype), k.to(dtype), v.to(dtype), key_mask)
        return out.to(out_dtype)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None) -> Tensor:
        b, h, length, d = q.shape
        m = min(self.options.num_landmarks, length)
        if key_mask is None and length % m == 0:
            return self._attend_unpadded(q, k, v, m)
        return self._attend_masked(q, k, v, key_mask)

    def _attend_unpadded(self, q: Tensor, k: Tensor, v: Tensor, m: int) -> Tensor:
        """The same computation when every token is real and L is a multiple of m: segments are equal
        runs, so landmarks are plain means and nothing needs masking."""
        b, h, length, d = q.shape
        q_land = q.view(b, h, m, length // m, d).mean(dim=3)
        k_land = k.view(b, h, m, length // m, d).mean(dim=3)
        kernel_2 = (q_land @ k_land.transpose(-1, -2) / math.sqrt(d)).softmax(dim=-1)
        return self._combine(q, k, v, q_land, k_land, kernel_2)

    def _combine(self, q: Tensor, k: Tensor, v: Tensor, q_land: Tensor, k_land: Tensor, kernel_2: Tensor,
                 real: Tensor | None = None, land_ok: Tensor | None = None) -> Tensor:
        """kernel_1 pinv(kernel_2) (kernel_3 V). Kernels 1 and 3 are softmax attentions, softmax(Q K~^T) W
        and softmax(Q~ K^T) V, so the fused SDPA kernel computes them without storing their L x m weights
        (a row with every key masked gets zeros, as `_softmax` gives). real (B, L) and land_ok (B, 1, m):
        real tokens and landmarks holding one, None when all are. Attention dropout acts on kernel 1, the
        weights each query puts on the landmarks."""
        key_mask = None if real is None else real[:, None, None, :]
        summary = F.scaled_dot_product_attention(q_land, k, v, attn_mask=key_mask)  # kernel_3 @ V: (B, H, m, d)
        if land_ok is not None:
            summary = summary * land_ok[..., None]
        if self.options.exact_pinv:
            inverse = torch.linalg.pinv(kernel_2)
        else:
            inverse = iterative_pinv(kernel_2, self.options.pinv_iterations)
        out = F.scaled_dot_product_attention(q, k_land, inverse @ summary,
                                             attn_mask=None if land_ok is None else land_ok[:, :, None, :],
                                             dropout_p=self.dropout_p)
        if self.conv is not None:
            # v is zero at pads, so pads add nothing to real rows. The weight is cast to v's compute dtype:
            # after module.to(bfloat16) it is bf16 while the kernels run in float32.
            conv = self.conv
            out = out + F.conv2d(v, conv.weight.to(v.dtype), padding=conv.padding, groups=conv.groups)
        return out

    def _attend_masked(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None) -> Tensor:
        b, h, length, d = q.shape
        real = torch.ones(b, length, dtype=torch.bool, device=q.device) if key_mask is None else key_mask
        q, k, v = (zero_padded(t, real) for t in (q, k, v))
        m = min(self.options.num_landmarks, length)
        assign = segment_assignment(real, m, q.dtype)  # (B, L, m)
        q_land = torch.einsum("blm,bhld->bhmd", assign, q)
        k_land = torch.einsum("blm,bhld->bhmd", assign, k)
        land_ok = (assign > 0).any(dim=1)[:, None, :]  # (B, 1, m): segments holding a real token
        scale = 1.0 / math.sqrt(d)
        both = land_ok[:, :, :, None] & land_ok[:, :, None, :]
        kernel_2 = _softmax(q_land @ k_land.transpose(-1, -2) * scale, both)
        # Spare landmarks become identity rows: a block decoupled from the real one in any pseudo-inverse.
        spare = torch.diag_embed((~land_ok).to(q.dtype)).expand(b, h, m, m)
        kernel_2 = torch.where(both, kernel_2, spare)
        return self._combine(q, k, v, q_land, k_land, kernel_2, real, land_ok)
