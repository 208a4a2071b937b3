"""Linear Transformer (Katharopoulos et al. 2020): softmax replaced by the kernel phi(x) = elu(x) + 1.

out_i = phi(q_i) . sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j) + eps): O(L d^2) instead of O(L^2 d).
As in LRA: eps = 1e-6 in the denominator, no 1/sqrt(d), no attention dropout (there is no weight matrix:
attention_dropout > 0 is refused).
Unlike LRA, padded keys are removed: phi(k) and v are zeroed there (LRA ignored padding).

The causal form is the prefix-sum recurrence S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t),
evaluated per chunk: exact quadratic attention inside a chunk plus the running (m x d) state of earlier
chunks, so memory is O(L * chunk + m d) rather than the O(L m d) of a full cumsum. The loop is over chunks,
never positions.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


def full_precision(x: Tensor) -> tuple[torch.dtype, AbstractContextManager]:
    """The dtype kernel methods compute in (float32 at least) and a context that turns autocast off, so
    that exp/elu features and their sums are not rounded to 16 bits (mlpen and xformers do the same)."""
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return dtype, torch.autocast(device_type=x.device.type, enabled=False)


def kernel_attention(q_feat: Tensor, k_feat: Tensor, v: Tensor, causal: bool = False, eps: float = 1e-6,
                     chunk: int = 128) -> Tensor:
    """sum_j (q_i . k_j) v_j / (sum_j q_i . k_j + eps) for non-negative features (B, H, L, m); v (B, H, L, d).

    Keys to leave out must already have zero features. A row with no key at all returns 0.
    """

    def divide(numerator: Tensor, normaliser: Tensor) -> Tensor:
        normaliser = normaliser + eps
        return numerator / normaliser.masked_fill(normaliser == 0, 1.0).unsqueeze(-1)

    if not causal:
        kv = torch.einsum("bhlm,bhld->bhmd", k_feat, v)
        normaliser = torch.einsum("bhlm,bhm->bhl", q_feat, k_feat.sum(dim=2))
        return divide(torch.einsum("bhlm,bhmd->bhld", q_feat, kv), normaliser)
    b, h, length, m = q_feat.shape
    state = q_feat.new_zeros(b, h, m, v.shape[-1])
    k_sum = q_feat.new_zeros(b, h, m)
    outputs = []
    for start in range(0, length, chunk):
        qc, kc, vc = (t[:, :, start : start + chunk] for t in (q_feat, k_feat, v))
        scores = torch.einsum("bhim,bhjm->bhij", qc, kc).tril()
        numerator = torch.einsum("bhim,bhmd->bhid", qc, state) + scores @ vc
        normaliser = torch.einsum("bhim,bhm->bhi", qc, k_sum) + scores.sum(-1)
        outputs.append(divide(numerator, normaliser))
        state = state + torch.einsum("bhjm,bhjd->bhmd", kc, vc)
        k_sum = k_sum + kc.sum(dim=2)
    return torch.cat(outputs, dim=2)


def zero_padded(x: Tensor, key_mask: Tensor | None) -> Tensor:
    """x (B, H, L, *) with the rows of padded tokens set to exactly 0 (where, not a product: inf * 0 = nan)."""
    if key_mask is None:
        return x
    return torch.where(key_mask[:, None, :, None], x, x.new_zeros(()))


@dataclass
class LinearOptions:
    eps: float = 1e-6  # LRA's value, added to the denominator
    chunk: int = 128  # causal mode only: positions per chunk of the prefix-sum recurrence

    def __post_init__(self) -> None:
        OptionChecker("linear", self).number("eps", minimum=0.0).integer("chunk", minimum=1)


@register_attention("linear", LinearOptions, summary="linear attention with phi = elu + 1 (Katharopoulos)",
                    test_options={"chunk": 8},
                    causal=True, has_attention_weights=False)
class LinearAttention(AttentionCore):
    def __init__(self, options: LinearOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        dtype, no_autocast = full_precision(q)
        with no_autocast:
            q_feat = F.elu(q.to(dtype)) + 1
            k_feat = zero_padded(F.elu(k.to(dtype)) + 1, key_mask)
            values = zero_padded(v.to(dtype), key_mask)
            out = kernel_attention(q_feat, k_feat, values, self.ctx.causal, self.options.eps, self.options.chunk)
        return out.to(v.dtype)
