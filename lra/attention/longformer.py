"""Longformer (Beltagy et al. 2020): a sliding window plus global tokens.

Token i sees j in [i - left + 1, i + right] (right = window // 2, left = window - right, itself included)
and every global token; global tokens (the first `num_global_tokens` positions, so the CLS by default) see
every key. The band is computed on chunks of max(left, right) tokens, each scoring its own chunk and one
neighbour each side; the global keys are a second key set whose logits are concatenated with the band's
into one softmax (the band skips global positions, so no key is counted twice). Time and memory are
O(L * (1.5 window + globals)); no L x L tensor is built.

Design: the paper's global rows use a separate set of q/k/v projections of x. The shared multi-head
wrapper hands a core only the projected per-head q, k, v, and a whole-mixer replacement would not receive
heads or qkv_dim, so the global branch applies a learned per-head d x d map to q, k and v (initialised near
the identity). This makes the global projections W_q M_q etc.: a documented restriction of the paper's.

LRA ran Longformer with window 512 and no global token at all (global_mask=None; the six global
projections existed but were unused), simulated by a dense O(L^2) mask. `num_global_tokens=0` reproduces
that pattern; the default 1 makes the CLS global, as the paper does for classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, look_around, pad_to_blocks, padded_key_mask
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class LongformerOptions:
    window: int = 512  # the band width of the sliding window; LRA: 512
    num_global_tokens: int = 1  # the first N positions; LRA: none

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"global_tokens": "num_global_tokens"}

    def __post_init__(self) -> None:
        OptionChecker("longformer", self).integer("window", minimum=1).integer("num_global_tokens", minimum=0)


@register_attention("longformer", LongformerOptions, summary="sliding window + global tokens",
                    test_options={"window": 6, "num_global_tokens": 1},
                    exposes_weights=True)
class LongformerAttention(AttentionCore):
    def __init__(self, options: LongformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.right = options.window // 2
        self.left = options.window - self.right
        d = ctx.head_dim
        if options.num_global_tokens > 0:
            self.global_qkv = nn.Parameter(torch.eye(d).repeat(3, ctx.num_heads, 1, 1)
                                           + 0.02 * torch.randn(3, ctx.num_heads, d, d))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, _ = q.shape
        # Chunks of max(left, right) tokens with one neighbour each side cover the band [-left+1, right].
        w, g = max(self.left, self.right), min(self.options.num_global_tokens, length)
        keys_ok = padded_key_mask(key_mask, b if key_mask is not None else 1, length, w, q.device)
        n = keys_ok.shape[1] // w
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        pos = torch.arange(n * w, device=q.device).view(n, w)
        key_pos = look_around(pos, 1, 1, block_dim=0, fill=-(4 * w))
        offset = key_pos[:, None, :] - pos[:, :, None]
        in_band = (offset > -self.left) & (offset <= self.right) & (key_pos[:, None, :] >= g)
        keep = in_band & look_around(keys_ok.view(-1, n, w), 1, 1, block_dim=1, fill=False)[:, :, None]
        # Every token also sees the global tokens: each block's key set is its band and the global keys.
        keep = torch.cat([keep, keys_ok[:, None, None, :g].expand(-1, n, w, g)], dim=-1)[:, None]
        with_globals = lambda blocks, t: torch.cat(  # noqa: E731
            [look_around(blocks, 1, 1, block_dim=2), t[:, :, None, :g].expand(-1, -1, n, -1, -1)], dim=3)
        out = block_attention(qb, with_globals(kb, k), with_globals(vb, v), keep, self.dropout_p)
        out = out.reshape(b, h, n * w, -1)[:, :, :length]
        if g == 0:
            return out
        # Global rows: attention over every real key, with the global maps of q, k and v.
        proj = self.global_qkv.to(q.dtype)
        qg = torch.einsum("bhld,hde->bhle", q[:, :, :g], proj[0])
        kg, vg = torch.einsum("bhld,hde->bhle", k, proj[1]), torch.einsum("bhld,hde->bhle", v, proj[2])
        glob = F.scaled_dot_product_attention(qg, kg, vg, attn_mask=keys_ok[:, None, None, :length],
                                              dropout_p=self.dropout_p)
        return torch.cat([glob, out[:, :, g:]], dim=2)

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        """The pattern of the non-global rows (band or global key); global rows see every key."""
        i = torch.arange(length)[:, None]
        j = torch.arange(length)[None, :]
        g = self.options.num_global_tokens
        keep = ((j - i > -self.left) & (j - i <= self.right)) | (j < g) | (i < g)
        return keep[None, None]

    def softmax_weights(self, q: Tensor, k: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """The pattern's weights, with the global rows scored through their global maps as in forward."""
        weights = super().softmax_weights(q, k, key_mask)
        g = min(self.options.num_global_tokens, q.shape[-2])
        if g == 0:
            return weights
        proj = self.global_qkv.double()
        # Every key is in a global row's pattern, so the whole-length call only adds rows that are dropped.
        qg = torch.einsum("bhld,hde->bhle", q.double(), proj[0])
        kg = torch.einsum("bhld,hde->bhle", k.double(), proj[1])
        return torch.cat([super().softmax_weights(qg, kg, key_mask)[:, :, :g], weights[:, :, g:]], dim=2)
