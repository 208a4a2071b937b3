"""Inducing-point attention (Set Transformer's ISAB, Lee et al. 2019), the survey's memory family.

Each head has m learned inducing vectors. Stage 1: they attend to the real keys and values, giving m
summaries. Stage 2: every query attends to those summaries (used as both keys and values; the Set
Transformer's second block re-projects them, which the shared q/k/v wrapper already does for the tokens).
Cost O(L m d); padding only enters stage 1, where it is masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import masked_attention
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class IsabOptions:
    num_inducing: int = 32

    def __post_init__(self) -> None:
        OptionChecker("isab", self).integer("num_inducing", minimum=1)


@register_attention("isab", IsabOptions, summary="attention through learned inducing points (Set Transformer)",
                    test_options={"num_inducing": 4})
class IsabAttention(AttentionCore):
    def __init__(self, options: IsabOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.inducing = nn.Parameter(torch.randn(ctx.num_heads, options.num_inducing, ctx.head_dim)
                                     / math.sqrt(ctx.head_dim))

    def summaries(self, k: Tensor, v: Tensor, key_mask: Tensor | None) -> Tensor:
        inducing = self.inducing.to(k.dtype).expand(k.shape[0], -1, -1, -1)
        return masked_attention(inducing, k, v, key_mask, dropout=self.dropout_p)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        memory = self.summaries(k, v, key_mask)
        weights = torch.einsum("bhqd,bhmd->bhqm", q, memory).div(math.sqrt(q.shape[-1])).softmax(dim=-1)
        if self.dropout_p > 0:
            weights = F.dropout(weights, self.dropout_p)
        return torch.einsum("bhqm,bhmd->bhqd", weights, memory)


# The class's name before the naming scheme of lra/attention/base.py; kept for one release.
InducingPointAttention = IsabAttention
