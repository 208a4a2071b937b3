"""Linformer (Wang et al. 2020): keys and values are projected along the sequence to k rows,
K' = E^T K and V' = F^T V with E, F in R^{max_len x k}, so attention costs O(L k d).

As in LRA, one projection is shared by keys, values and all heads of a layer (share_kv=True) and k = 16
(LRA's text config set k=32 at a level its train.py never read). Unlike LRA, padded keys and values are
zeroed before projecting, so padding cannot leak into the k summaries. Inputs shorter than max_len use
the first L rows of E.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.registry import register_attention
from lra.errors import LraError


@dataclass
class LinformerOptions:
    k: int = 16
    share_kv: bool = True


@register_attention("linformer", LinformerOptions, summary="low-rank projection of keys and values along L",
                    test_options={"k": 8})
class LinformerAttention(AttentionCore):
    def __init__(self, options: LinformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.proj_k = nn.Parameter(nn.init.xavier_uniform_(torch.empty(ctx.max_len, options.k)))
        self.proj_v = None if options.share_kv else nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(ctx.max_len, options.k)))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        length = k.shape[2]
        if length > self.ctx.max_len:
            raise LraError(f"linformer was built for max_len={self.ctx.max_len}; got a sequence of {length}")
        if key_mask is not None:
            keep = key_mask[:, None, :, None].to(k.dtype)
            k, v = k * keep, v * keep
        e = self.proj_k[:length].to(k.dtype)
        f = e if self.proj_v is None else self.proj_v[:length].to(v.dtype)
        k_low = torch.einsum("bhld,lk->bhkd", k, e)
        v_low = torch.einsum("bhld,lk->bhkd", v, f)
        weights = torch.einsum("bhqd,bhkd->bhqk", q, k_low).div(math.sqrt(q.shape[-1])).softmax(dim=-1)
        if self.training and self.ctx.attention_dropout > 0:
            weights = F.dropout(weights, self.ctx.attention_dropout)
        return torch.einsum("bhqk,bhkd->bhqd", weights, v_low)
