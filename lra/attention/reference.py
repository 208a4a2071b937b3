"""The oracle: naive O(L^2) masked softmax attention in plain PyTorch.

Every mechanism is tested against `reference_attention`, usually in float64. It is deliberately the
most direct transcription of softmax(QK^T / sqrt(d) + mask) V, with no tricks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import combine_masks
from lra.attention.registry import register_attention


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    key_mask: Tensor | None = None,
    causal: bool = False,
    pattern: Tensor | None = None,
    scale: float | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> Tensor:
    """softmax(q k^T * scale, masked) v for (B, H, L, d) inputs.

    A query row with no key to attend to (all masked) returns zeros.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = torch.einsum("bhqd,bhkd->bhqk", q, k) * scale
    keep = combine_masks(q.shape[-2], k.shape[-2], key_mask, causal, pattern, device=q.device)
    if keep is None:
        weights = logits.softmax(dim=-1)
    else:
        logits = logits.masked_fill(~keep, float("-inf"))
        any_key = keep.any(dim=-1, keepdim=True)
        weights = logits.masked_fill(~any_key, 0.0).softmax(dim=-1) * any_key
    if dropout > 0.0 and training:
        weights = F.dropout(weights, p=dropout)
    return torch.einsum("bhqk,bhkd->bhqd", weights, v)


@dataclass
class ReferenceOptions:
    """The oracle has no options."""


@register_attention("reference", ReferenceOptions, summary="naive masked softmax attention (the test oracle)",
                    causal=True, exposes_weights=True, oracle=True)
class ReferenceAttention(AttentionCore):
    def __init__(self, options: ReferenceOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        return reference_attention(
            q, k, v, key_mask, causal=self.ctx.causal,
            dropout=self.dropout_p, training=self.training,
        )
