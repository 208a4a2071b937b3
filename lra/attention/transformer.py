"""Exact softmax attention through torch's scaled_dot_product_attention (flash / memory-efficient on GPU)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.registry import register_attention


@dataclass
class TransformerOptions:
    """Vanilla attention has no options."""


@register_attention("transformer", TransformerOptions, summary="exact softmax attention via SDPA",
                    causal=True, exposes_weights=True, baseline=True)
class TransformerAttention(AttentionCore):
    def __init__(self, options: TransformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        dropout = self.dropout_p
        if key_mask is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=self.ctx.causal)
        # A sequence with no real token at all would give NaN rows; let such rows attend everywhere
        # (their outputs are zeroed by the wrapper anyway).
        key_mask = key_mask | ~key_mask.any(dim=-1, keepdim=True)
        keep = key_mask[:, None, None, :]
        if self.ctx.causal:
            length = q.shape[-2]
            keep = keep & torch.ones(length, length, dtype=torch.bool, device=q.device).tril()
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout)
