"""BigBird (Zaheer et al. 2020), block-sparse: each query block attends to its window blocks, the global
blocks (the first and the last, which themselves attend everywhere), and a few random blocks.

Computed by gathering key blocks per query block, so time and memory are O(L * (window + 2 + random) *
block). The random blocks come from a buffer drawn at construction (for max_len), so eval is
deterministic and the dense oracle can be rebuilt from `block_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.blocks import masked_softmax, pad_to_blocks, padded_key_mask, scaled_logits
from lra.attention.registry import register_attention


@dataclass
class BigBirdOptions:
    block_size: int = 64
    num_random_blocks: int = 3
    window_blocks: int = 3  # odd: the block itself and (window_blocks - 1) / 2 on each side


@register_attention("bigbird", BigBirdOptions, summary="block-sparse window + global + random blocks",
                    test_options={"block_size": 4, "num_random_blocks": 1})
class BigBirdAttention(AttentionCore):
    length_dependent = True
    def __init__(self, options: BigBirdOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        if options.window_blocks % 2 == 0:
            raise ValueError("bigbird window_blocks must be odd")
        self.options = options
        max_blocks = math.ceil(ctx.max_len / options.block_size) + 1
        self.register_buffer("random_blocks", torch.randint(0, 1 << 30, (max_blocks, options.num_random_blocks)))

    def block_table(self, n: int, device=None) -> tuple[Tensor, Tensor]:
        """(n, K) key-block ids per query block and a validity mask (duplicates and out-of-range dropped)."""
        half = self.options.window_blocks // 2
        rows = torch.arange(n, device=device)[:, None]
        window = rows + torch.arange(-half, half + 1, device=device)
        globals_ = torch.tensor([0, n - 1], device=device).expand(n, 2)
        randoms = self.random_blocks[:n].to(device) % n
        table = torch.cat([window, globals_, randoms], dim=1)
        valid = (table >= 0) & (table < n)
        table = table.clamp(0, n - 1)
        earlier = (table[:, :, None] == table[:, None, :]) & valid[:, None, :]
        duplicate = earlier.tril(diagonal=-1).any(dim=-1)
        return table, valid & ~duplicate

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        w = self.options.block_size
        keys_ok = padded_key_mask(key_mask, b, length, w, q.device)
        n = keys_ok.shape[1] // w
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        table, valid = self.block_table(n, q.device)
        kk = kb[:, :, table].flatten(3, 4)  # (B, H, n, K*w, d)
        vv = vb[:, :, table].flatten(3, 4)
        keep = (keys_ok.view(b, n, w)[:, table] & valid[None, :, :, None]).flatten(2, 3)
        weights = masked_softmax(scaled_logits(qb, kk, "bhnqd,bhnkd->bhnqk"), keep[:, None, :, None, :])
        if self.training and self.ctx.attention_dropout > 0:
            weights = F.dropout(weights, self.ctx.attention_dropout)
        out = torch.einsum("bhnqk,bhnkd->bhnqd", weights, vv)
        # Global query blocks attend to every key.
        global_ids = torch.tensor(sorted({0, n - 1}), device=q.device)
        qg = qb[:, :, global_ids].flatten(2, 3)
        keys, values = kb.flatten(2, 3), vb.flatten(2, 3)
        gw = masked_softmax(scaled_logits(qg, keys, "bhqd,bhkd->bhqk"), keys_ok[:, None, None, :])
        if self.training and self.ctx.attention_dropout > 0:
            gw = F.dropout(gw, self.ctx.attention_dropout)
        out[:, :, global_ids] = torch.einsum("bhqk,bhkd->bhqd", gw, values).view(b, h, len(global_ids), w, -1)
        return out.reshape(b, h, n * w, -1)[:, :, :length]

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        w = self.options.block_size
        n = math.ceil(length / w)
        table, valid = self.block_table(n)
        blocks = torch.zeros(n, n, dtype=torch.bool)
        blocks[torch.arange(n)[:, None].expand_as(table)[valid], table[valid]] = True
        blocks[[0, n - 1]] = True
        token = torch.arange(length) // w
        return blocks[token][:, token][None, None]
