"""Local attention: the sequence is cut into blocks of `block_size` tokens and each block attends to
itself and its neighbouring blocks (look_backward before, look_forward after), computed block by block, so
time and memory are O(L * block_size).

This is the algorithm as published (contiguous blocks with look-around, as in lucidrains'
local-attention). The sequence is padded to a multiple of the block size; that internal padding and the
user's padding are masked as keys in every block, so pads never receive weight. Causal mode keeps
j <= i and drops the look-forward.

Deviations from LRA's released code, which reshaped (L) -> (block, n_blocks): that groups *strided*
positions p = i * n_blocks + j, reshapes the padding mask the other way (contiguously), pads a whole
extra block when L is a multiple of the block, and has no look-around. We do not copy those bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, look_around, pad_to_blocks, padded_key_mask
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention
from lra.errors import LraError


@dataclass
class LocalOptions:
    block_size: int = 50  # LRA: 50 on text/ListOps/retrieval, 64 on image/Pathfinder
    look_backward: int = 1
    look_forward: int = 1  # not in causal mode, which sees no later block (there: 0 or the default)

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"window": "block_size"}

    def __post_init__(self) -> None:
        check = OptionChecker("local", self)
        check.integer("block_size", minimum=1).integer("look_backward", minimum=0).integer("look_forward", minimum=0)


@register_attention("local", LocalOptions, summary="blocked local attention with look-around",
                    test_options={"block_size": 6},
                    causal=True, exposes_weights=True)
class LocalAttention(AttentionCore):
    def __init__(self, options: LocalOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        if ctx.causal and options.look_forward not in (0, LocalOptions.look_forward):
            raise LraError(f"model 'local' option look_forward={options.look_forward!r}: expected 0 (or the "
                           f"default {LocalOptions.look_forward}) with model.causal=true, which looks at no "
                           "later block")
        self.options = options

    @property
    def _look(self) -> tuple[int, int]:
        return self.options.look_backward, 0 if self.ctx.causal else self.options.look_forward

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        w = self.options.block_size
        back, fwd = self._look
        # Without a key mask, the keep-mask has batch 1 and broadcasts (only the ends and padding are masked).
        keys_ok = padded_key_mask(key_mask, b if key_mask is not None else 1, length, w, q.device)
        n = keys_ok.shape[1] // w
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        kk = look_around(kb, back, fwd, block_dim=2)
        vv = look_around(vb, back, fwd, block_dim=2)
        keep = look_around(keys_ok.view(-1, n, w), back, fwd, block_dim=1, fill=False)[:, None, :, None, :]
        if self.ctx.causal:
            pos = torch.arange(n * w, device=q.device).view(n, w)
            key_pos = look_around(pos, back, fwd, block_dim=0, fill=-1)
            keep = keep & (key_pos[:, None, :] <= pos[:, :, None])
        out = block_attention(qb, kk, vv, keep, self.dropout_p)
        return out.reshape(b, h, n * w, -1)[:, :, :length]

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        back, fwd = self._look
        block = torch.arange(length) // self.options.block_size
        offset = block[None, :] - block[:, None]  # key block minus query block
        keep = (offset >= -back) & (offset <= fwd)
        if self.ctx.causal:
            keep = keep & torch.ones(length, length, dtype=torch.bool).tril()
        return keep[None, None]
