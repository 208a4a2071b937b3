"""Linear Transformer (Katharopoulos et al. 2020): softmax replaced by the kernel phi(x) = elu(x) + 1.

out_i = phi(q_i) . sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j)): O(L d^2) instead of O(L^2 d).
Padded keys are removed by zeroing phi(k) there (LRA's version ignored padding). The causal form runs
over chunks: exact quadratic attention inside a chunk plus a running (d x d) state from earlier chunks,
so memory stays O(L * chunk + d^2) instead of O(L d^2) for a full prefix sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.registry import register_attention


def kernel_attention(q_feat: Tensor, k_feat: Tensor, v: Tensor, causal: bool = False, eps: float = 1e-6,
                     chunk: int = 128) -> Tensor:
    """sum_j (q_i . k_j) v_j / sum_j (q_i . k_j) for non-negative features (B, H, L, m); v (B, H, L, d).

    A row with no key at all (normaliser exactly 0) returns 0.
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


def zero_padded(features: Tensor, key_mask: Tensor | None) -> Tensor:
    return features if key_mask is None else features * key_mask[:, None, :, None].to(features.dtype)


@dataclass
class LinearOptions:
    eps: float = 1e-6
    chunk: int = 128  # causal mode only


@register_attention("linear", LinearOptions, summary="linear attention with phi = elu + 1 (Katharopoulos)",
                    test_options={"chunk": 8})
class LinearAttention(AttentionCore):
    causal_supported = True

    def __init__(self, options: LinearOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        q_feat = F.elu(q.float() if q.dtype == torch.bfloat16 else q) + 1
        k_feat = zero_padded(F.elu(k.float() if k.dtype == torch.bfloat16 else k) + 1, key_mask)
        out = kernel_attention(q_feat, k_feat, v.to(q_feat.dtype), self.ctx.causal, self.options.eps,
                               self.options.chunk)
        return out.to(v.dtype)
