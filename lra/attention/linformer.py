"""Linformer (Wang et al. 2020): keys and values are projected along the sequence to k rows
(`projected_size`), K' = E^T K and V' = F^T V with E, F in R^{max_len x k}, so attention costs O(L k d) time
and O(L k) memory.

As in LRA: one xavier-initialised kernel shared by keys, values and all heads of a layer (share_kv=True;
False gives separate E and F), k = 16 (LRA's text config set low_rank_features=32 at a level its train.py
never read), and inputs shorter than max_len use the first L rows of E. Unlike LRA, padded keys and values
are zeroed before projecting, so padding cannot leak into the k summaries (LRA applied no mask and left
the question "Does Linformer care about masks?" open). No causal mode: a projection along the sequence
mixes future tokens in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import check_length, zero_padded
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class LinformerOptions:
    projected_size: int = 16  # k, the projected length
    share_kv: bool = True  # one E for keys and values (LRA); False: separate E and F

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"k": "projected_size"}

    def __post_init__(self) -> None:
        OptionChecker("linformer", self).integer("projected_size", minimum=1).flag("share_kv")


@register_attention("linformer", LinformerOptions, summary="low-rank projection of keys and values along L",
                    test_options={"projected_size": 8})
class LinformerAttention(AttentionCore):
    def __init__(self, options: LinformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.proj_k = nn.Parameter(nn.init.xavier_uniform_(torch.empty(ctx.max_len, options.projected_size)))
        self.proj_v = None if options.share_kv else nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(ctx.max_len, options.projected_size)))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        length = k.shape[2]
        check_length("linformer", length, self.ctx.max_len)
        k, v = zero_padded(k, key_mask), zero_padded(v, key_mask)
        e = self.proj_k[:length].to(k.dtype)
        f = e if self.proj_v is None else self.proj_v[:length].to(v.dtype)
        # Projected in the (B, L, H * d) layout that the wrapper's head views come from: one matmul for all
        # heads, with no copy of k or v into per-head order (the einsum over "bhld" made one each way).
        b, h, _, d = k.shape
        flat = lambda t: t.transpose(1, 2).reshape(b, length, -1)  # noqa: E731
        k_low = torch.einsum("lk,bln->bkn", e, flat(k)).view(b, -1, h, d).transpose(1, 2)
        v_low = torch.einsum("lk,bln->bkn", f, flat(v)).view(b, -1, h, v.shape[-1]).transpose(1, 2)
        weights = torch.einsum("bhqd,bhkd->bhqk", q, k_low).div(math.sqrt(q.shape[-1])).softmax(dim=-1)
        if self.dropout_p > 0:
            weights = F.dropout(weights, self.dropout_p)
        return torch.einsum("bhqk,bhkd->bhqd", weights, v_low)
