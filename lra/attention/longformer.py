"""Longformer (Beltagy et al. 2020): a sliding window plus global tokens.

Token i sees j in [i - left + 1, i + right] (right = window // 2, left = window - right, itself included)
and every global token; global tokens (the first `global_tokens` positions, so the CLS by default) see
everything. The window is computed on blocks of `window` tokens with one neighbour each side; the global
keys are a second key set merged into the same softmax. Global rows use their own projections, applied
per head to q, k and v (the paper has separate global projections of x; per-head maps on the projected
q/k/v keep the shared multi-head wrapper).

LRA ran Longformer with window 512 and no global token at all, simulated by a dense mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

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
class LongformerOptions:
    window: int = 512
    global_tokens: int = 1


@register_attention("longformer", LongformerOptions, summary="sliding window + global tokens",
                    test_options={"window": 6, "global_tokens": 1})
class LongformerAttention(AttentionCore):
    def __init__(self, options: LongformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.right = options.window // 2
        self.left = options.window - self.right
        d = ctx.head_dim
        if options.global_tokens > 0:
            self.global_qkv = nn.Parameter(torch.eye(d).repeat(3, ctx.num_heads, 1, 1)
                                           + 0.02 * torch.randn(3, ctx.num_heads, d, d))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        # Blocks of max(left, right) tokens with one neighbour each side cover the band [-left+1, right].
        w, g = max(self.left, self.right, 1), min(self.options.global_tokens, length)
        drop = (self.ctx.attention_dropout, self.training)
        keys_ok = padded_key_mask(key_mask, b, length, w, q.device)
        n = keys_ok.shape[1] // w
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        pos = torch.arange(n * w, device=q.device).view(n, w)
        key_pos = look_around(pos, 1, 1, block_dim=0, fill=-(4 * w))
        offset = key_pos[:, None, :] - pos[:, :, None]
        in_band = (offset > -self.left) & (offset <= self.right) & (key_pos[:, None, :] >= g)
        keep = in_band & look_around(keys_ok.view(b, n, w), 1, 1, block_dim=1, fill=False)[:, :, None]
        parts = [partial_attention(scaled_logits(qb, look_around(kb, 1, 1, block_dim=2), "bhnqd,bhnkd->bhnqk"),
                                   keep[:, None], look_around(vb, 1, 1, block_dim=2), "bhnqk,bhnkd->bhnqd", *drop)]
        if g > 0:  # every token also sees the global tokens (excluded from the band above)
            g_keep = keys_ok[:, None, None, None, :g].expand(b, 1, n, w, g)
            parts.append(partial_attention(scaled_logits(qb, k[:, :, :g], "bhnqd,bhkd->bhnqk"), g_keep,
                                           v[:, :, :g], "bhnqk,bhkd->bhnqd", *drop))
        out = merge_partial(parts).reshape(b, h, n * w, -1)[:, :, :length]
        if g > 0:  # global rows: full attention with the global projections
            proj = self.global_qkv.to(q.dtype)
            qg = torch.einsum("bhld,hde->bhle", q[:, :, :g], proj[0])
            kg, vg = torch.einsum("bhld,hde->bhle", k, proj[1]), torch.einsum("bhld,hde->bhle", v, proj[2])
            keep_all = keys_ok[:, None, None, :length]
            rows, _ = partial_attention(scaled_logits(qg, kg, "bhqd,bhkd->bhqk"), keep_all, vg,
                                        "bhqk,bhkd->bhqd", *drop)
            out = torch.cat([rows, out[:, :, g:]], dim=2)
        return out

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        """The pattern of the non-global rows (band or global key); global rows see every key."""
        i = torch.arange(length)[:, None]
        j = torch.arange(length)[None, :]
        g = self.options.global_tokens
        keep = ((j - i > -self.left) & (j - i <= self.right)) | (j < g) | (i < g)
        return keep[None, None]
