"""Sparse Transformer (Child et al. 2019) patterns, computed sparsely.

fixed (LRA's Fixed1 + Fixed2, block l, summary width c): query i sees its own block, plus the summary
columns j with j mod l == 0 or j mod l >= l - c (LRA added the mod 0 column).
strided: query i sees the band |i - j| < l plus every j with (i - j) mod l == 0.
Each pattern is the union of two key sets computed separately (own block or band; summary columns or
stride) and merged into one softmax through their log-sum-exps, without an L x L mask.

LRA made these patterns causal even for its bidirectional classification tasks, with a special CLS
row/column. Here `causal_pattern` is off by default (a bidirectional pattern for bidirectional tasks);
turn it on to restrict every pattern to j <= i. The model's `causal` flag does the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.blocks import (
    look_around,
    merge_partial,
    pad_to_blocks,
    padded_key_mask,
    partial_attention,
    scaled_logits,
)
from lra.attention.registry import register_attention


@dataclass
class SparseOptions:
    pattern: str = "fixed"  # fixed | strided
    block: int = 50  # l (LRA hard-wires 50)
    summary: int = 10  # c, fixed pattern only (LRA hard-wires 10)
    causal_pattern: bool = False


@register_attention("sparse", SparseOptions, summary="Sparse Transformer fixed / strided patterns",
                    test_options={"block": 6, "summary": 2})
class SparseAttention(AttentionCore):
    causal_supported = True

    def __init__(self, options: SparseOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        if options.pattern not in ("fixed", "strided"):
            raise ValueError(f"sparse pattern {options.pattern!r}: expected fixed or strided")
        self.options = options
        self.causal = ctx.causal or options.causal_pattern

    def _dropout(self) -> tuple[float, bool]:
        return self.ctx.attention_dropout, self.training

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        l_ = self.options.block
        keys_ok = padded_key_mask(key_mask, b, length, l_, q.device)
        n = keys_ok.shape[1] // l_
        qb, kb, vb = (pad_to_blocks(t, l_).view(b, h, n, l_, -1) for t in (q, k, v))
        pos = torch.arange(n * l_, device=q.device).view(n, l_)
        if self.options.pattern == "fixed":
            keep = keys_ok.view(b, 1, n, 1, l_).expand(b, 1, n, l_, l_)
            if self.causal:
                keep = keep & torch.ones(l_, l_, dtype=torch.bool, device=q.device).tril()
            near = partial_attention(scaled_logits(qb, kb, "bhnqd,bhnkd->bhnqk"), keep, vb,
                                     "bhnqk,bhnkd->bhnqd", *self._dropout())
            columns = pos.flatten()
            columns = columns[(columns % l_ == 0) | (columns % l_ >= l_ - self.options.summary)]
            ks, vs = pad_to_blocks(k, l_)[:, :, columns], pad_to_blocks(v, l_)[:, :, columns]
            far_keep = keys_ok[:, columns][:, None, None, None, :] & (
                (columns // l_)[None, :] != torch.arange(n, device=q.device)[:, None])[None, None, :, None, :]
            if self.causal:
                far_keep = far_keep & (columns[None, None, :] <= pos[:, :, None])[None, None]
            far = partial_attention(scaled_logits(qb, ks, "bhnqd,bhkd->bhnqk"), far_keep, vs,
                                    "bhnqk,bhkd->bhnqd", *self._dropout())
            out = merge_partial([near, far])
            return out.reshape(b, h, n * l_, -1)[:, :, :length]
        # strided: the band through neighbouring blocks, the stride through the transposed (l x n) grid.
        kk, vv = look_around(kb, 1, 1, block_dim=2), look_around(vb, 1, 1, block_dim=2)
        key_pos = look_around(pos, 1, 1, block_dim=0, fill=-(10 * l_))
        offset = key_pos[:, None, :] - pos[:, :, None]
        keep = (offset.abs() < l_) & look_around(keys_ok.view(b, n, l_), 1, 1, block_dim=1, fill=False)[:, :, None]
        if self.causal:
            keep = keep & (offset <= 0)
        band = partial_attention(scaled_logits(qb, kk, "bhnqd,bhnkd->bhnqk"), keep[:, None], vv,
                                 "bhnqk,bhnkd->bhnqd", *self._dropout())
        qt, kt, vt = (t.transpose(2, 3) for t in (qb, kb, vb))  # (B, H, l, n, d): column r = r, r+l, ...
        rows = torch.arange(n, device=q.device)
        stride_keep = (rows[None, :] - rows[:, None]).abs() >= 1  # same column, different block (not in band)
        if self.causal:
            stride_keep = stride_keep & (rows[None, :] <= rows[:, None])
        stride_keep = stride_keep[None, None, None] & keys_ok.view(b, n, l_).transpose(1, 2)[:, None, :, None, :]
        stride = partial_attention(scaled_logits(qt, kt, "bhrqd,bhrkd->bhrqk"), stride_keep, vt,
                                   "bhrqk,bhrkd->bhrqd", *self._dropout())
        stride = (stride[0].transpose(2, 3), stride[1].transpose(2, 3))
        # The sets are disjoint: the band has |i - j| < l, the stride set |i - j| >= l.
        out = merge_partial([band, stride])
        return out.reshape(b, h, n * l_, -1)[:, :, :length]

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        i = torch.arange(length)[:, None]
        j = torch.arange(length)[None, :]
        l_ = self.options.block
        if self.options.pattern == "fixed":
            keep = (i // l_ == j // l_) | (j % l_ == 0) | (j % l_ >= l_ - self.options.summary)
        else:
            keep = ((i - j).abs() < l_) | ((i - j) % l_ == 0)
        if self.causal:
            keep = keep & (j <= i)
        return keep[None, None]
