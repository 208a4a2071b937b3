"""Sparse Transformer (Child et al. 2019) patterns, computed sparsely.

fixed (LRA's Fixed1 + Fixed2, block l = `block_size`, summary width c = `summary_size`): query i sees its
own block (floor(i/l) == floor(j/l)) plus the summary columns j with j mod l >= l - c or j mod l == 0 (the
paper's summary set is the last c positions of each block; LRA's code added the mod-0 column, kept here).
strided: query i sees the band |i - j| < l plus every j with (i - j) mod l == 0.

Each query block scores two key sets, its near keys (own block, or the band through the neighbouring
blocks) and its far keys (the gathered summary columns, or the same-column positions of the other
blocks), and the two sets of logits are concatenated into one softmax. The far set never contains a
key of the near set, so no key is counted twice. Cost per query: l + (c + 1) * L / l keys (fixed) or
3l + L / l (strided): at a fixed block this grows with L, as the pattern itself does (O(L sqrt L) with
l ~ sqrt L); no L x L tensor is built.

Causality: LRA ANDed the pattern with j <= i even for its bidirectional classification tasks (and gave
the CLS row and column full access). Here `causal_pattern` defaults to False, a bidirectional pattern
for bidirectional tasks, because without LRA's CLS exception a causal pattern leaves a CLS at position 0
seeing only itself. `causal_pattern=True` gives LRA's causal pattern without that CLS exception; the
model's `causal` flag implies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import look_around, masked_softmax, pad_to_blocks, padded_key_mask, scaled_logits
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention

PATTERNS = ("fixed", "strided")


@dataclass
class SparseOptions:
    pattern: str = "fixed"  # fixed | strided
    block_size: int = 50  # l (LRA hard-wires Fixed1Pattern(50), Fixed2Pattern(50, c=10))
    summary_size: int = 10  # c, fixed pattern only
    causal_pattern: bool = False  # LRA: always causal; see the module docstring

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"block": "block_size", "summary": "summary_size"}

    def __post_init__(self) -> None:
        check = OptionChecker("sparse", self)
        check.choice("pattern", PATTERNS).integer("block_size", minimum=1).integer("summary_size", minimum=0)
        check.flag("causal_pattern").unused_unless("summary_size", "pattern", ("fixed",))
        if self.pattern == "fixed" and self.summary_size > self.block_size:
            raise check.fail("summary_size", f"at most block_size={self.block_size} (the last c positions of "
                                             "each block)")


@register_attention("sparse", SparseOptions, summary="Sparse Transformer fixed / strided patterns",
                    test_options={"block_size": 6, "summary_size": 2},
                    causal=True, exposes_weights=True)
class SparseAttention(AttentionCore):
    def __init__(self, options: SparseOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.causal = ctx.causal or options.causal_pattern

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, _ = q.shape
        l_ = self.options.block_size
        keys_ok = padded_key_mask(key_mask, b, length, l_, q.device)
        n = keys_ok.shape[1] // l_
        qb, kb, vb = (pad_to_blocks(t, l_).view(b, h, n, l_, -1) for t in (q, k, v))
        pos = torch.arange(n * l_, device=q.device).view(n, l_)
        key_sets = self._fixed if self.options.pattern == "fixed" else self._strided
        near_k, near_v, near_pos, near_ok, far_k, far_v, far_keep = key_sets(kb, vb, pos, keys_ok)
        offset = near_pos[:, None, :] - pos[:, :, None]  # (n, l, K_near): key minus query position
        near_keep = near_ok[:, :, None, :] & self._near_pattern(offset)  # (B, n, l, K_near)
        if self.causal:
            near_keep = near_keep & (offset <= 0)
        keep = torch.cat([near_keep, far_keep.expand(b, n, l_, -1)], dim=-1)[:, None]
        logits = torch.cat([scaled_logits(qb, near_k, "bhnqd,bhnkd->bhnqk"), self._far_logits(qb, far_k)], dim=-1)
        weights = masked_softmax(logits, keep)
        if self.dropout_p > 0:
            weights = F.dropout(weights, self.dropout_p)
        k_near = near_k.shape[-2]
        out = torch.einsum("bhnqk,bhnkd->bhnqd", weights[..., :k_near], near_v) + self._far_out(
            weights[..., k_near:], far_v)
        return out.reshape(b, h, n * l_, -1)[:, :, :length]

    def _near_pattern(self, offset: Tensor) -> Tensor:
        # fixed: the near keys are exactly the own block; strided: the band |i - j| < l out of 3 blocks.
        if self.options.pattern == "strided":
            return offset.abs() < self.options.block_size
        return torch.ones_like(offset, dtype=torch.bool)

    def _fixed(self, kb: Tensor, vb: Tensor, pos: Tensor, keys_ok: Tensor):
        n, l_ = pos.shape
        cols = pos.flatten()
        cols = cols[(cols % l_ == 0) | (cols % l_ >= l_ - self.options.summary_size)]  # the summary columns
        b = keys_ok.shape[0]
        far_k, far_v = kb.flatten(2, 3)[:, :, cols], vb.flatten(2, 3)[:, :, cols]  # (B, H, S, d)
        # A summary column inside the query's own block is already a near key.
        far_keep = keys_ok[:, cols][:, None, None, :] & (cols // l_ != torch.arange(n, device=pos.device)[:, None])[
            None, :, None, :]
        if self.causal:
            far_keep = far_keep & (cols <= pos[:, :, None])[None]
        return kb, vb, pos, keys_ok.view(b, n, l_), far_k, far_v, far_keep

    def _strided(self, kb: Tensor, vb: Tensor, pos: Tensor, keys_ok: Tensor):
        n, l_ = pos.shape
        b = keys_ok.shape[0]
        blocks_ok = keys_ok.view(b, n, l_)
        near_pos = look_around(pos, 1, 1, block_dim=0, fill=-(10 * l_))  # far outside any band
        near_ok = look_around(blocks_ok, 1, 1, block_dim=1, fill=False)
        # The stride set of query (block m, offset r): offset r of every other block u. Within one block
        # (u == m) the only such key is the query itself, which lies in the band.
        rows = torch.arange(n, device=pos.device)
        other = rows[None, :] != rows[:, None]  # (m, u)
        if self.causal:
            other = other & (rows[None, :] <= rows[:, None])
        far_keep = blocks_ok.transpose(1, 2)[:, None, :, :] & other[None, :, None, :]  # (B, m, r, u)
        return (look_around(kb, 1, 1, block_dim=2), look_around(vb, 1, 1, block_dim=2), near_pos, near_ok,
                kb, vb, far_keep)

    def _far_logits(self, qb: Tensor, far_k: Tensor) -> Tensor:
        if self.options.pattern == "fixed":
            return scaled_logits(qb, far_k, "bhnqd,bhsd->bhnqs")
        return scaled_logits(qb, far_k, "bhmrd,bhurd->bhmru")

    def _far_out(self, weights: Tensor, far_v: Tensor) -> Tensor:
        if self.options.pattern == "fixed":
            return torch.einsum("bhnqs,bhsd->bhnqd", weights, far_v)
        return torch.einsum("bhmru,bhurd->bhmrd", weights, far_v)

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        i = torch.arange(length)[:, None]
        j = torch.arange(length)[None, :]
        l_ = self.options.block_size
        if self.options.pattern == "fixed":
            keep = (i // l_ == j // l_) | (j % l_ == 0) | (j % l_ >= l_ - self.options.summary_size)
        else:
            keep = ((i - j).abs() < l_) | ((i - j) % l_ == 0)
        if self.causal:
            keep = keep & (j <= i)
        return keep[None, None]
