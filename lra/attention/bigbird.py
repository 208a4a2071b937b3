"""BigBird (Zaheer et al. 2020), ITC block-sparse: the sequence is cut into n blocks of `block_size`; the
first and the last block are global (their queries attend to every key, and every query attends to them);
every other query block attends to its window (itself and (num_window_blocks - 1) / 2 blocks each side), the
two global blocks and `num_random_blocks` random blocks, all in one softmax.

Computed by gathering the key blocks of each query block, so time and memory are O(L * (window + 2 +
random) * block); the global query blocks score all L keys, O(block * L). No L x L tensor is built.

Random blocks, fixed per module: a buffer of random ranks (heads, n_max, n_max) is drawn at construction
with the global torch RNG for n_max = ceil(max_len / block_size) blocks. For n blocks, query block i takes
the num_random_blocks highest-ranked blocks among those allowed (not global, not in its window) from row
i of scores[:, :n, :n]. That is a deterministic function of n, a different draw per head, as in BigBird,
without repeats or overlaps with the window and global blocks; fewer are taken when fewer are allowed.

Deviations from LRA's released code: no extra block is padded on when L is a multiple of the block; the
random blocks range over the whole sequence, not only the first 1,024 tokens; padded keys are masked in
every branch (LRA used an additive -10000 / -1e9); there is no causal mode (LRA fell back to dense
attention). The last block of a padded sequence is global, so outputs depend on the padded length
(`length_dependent`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, pad_to_blocks, padded_key_mask
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class BigBirdOptions:
    block_size: int = 64  # LRA: 64
    num_random_blocks: int = 3  # LRA: 3
    num_window_blocks: int = 3  # odd: the block itself and (num_window_blocks - 1) / 2 on each side

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"window_blocks": "num_window_blocks"}

    def __post_init__(self) -> None:
        check = OptionChecker("bigbird", self)
        check.integer("block_size", minimum=1).integer("num_random_blocks", minimum=0)
        check.integer("num_window_blocks", minimum=1, odd=True)


@register_attention("bigbird", BigBirdOptions, summary="block-sparse window + global + random blocks",
                    test_options={"block_size": 4, "num_random_blocks": 1},
                    length_dependent=True, exposes_weights=True)
class BigBirdAttention(AttentionCore):
    def __init__(self, options: BigBirdOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        n_max = math.ceil(ctx.max_len / options.block_size)
        # Integer ranks rather than float scores, so .half() or .double() cannot reorder or tie them.
        ranks = torch.rand(ctx.num_heads, n_max, n_max).argsort(dim=-1).argsort(dim=-1)
        self.register_buffer("random_ranks", ranks)

    def block_table(self, n: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        """(H, n, K) key-block ids per head and query block, and whether each slot is used.

        Slots: window blocks, then the two global blocks, then the random blocks. Out-of-range window
        slots and repeats (a window block that is also global) are unused.
        """
        if n > self.random_ranks.shape[1]:
            raise ValueError(f"bigbird: {n} blocks exceed the {self.random_ranks.shape[1]} built for max_len")
        heads, half = self.random_ranks.shape[0], self.options.num_window_blocks // 2
        rows = torch.arange(n, device=device)[:, None]
        window = rows + torch.arange(-half, half + 1, device=device)
        fixed = torch.cat([window, torch.tensor([0, n - 1], device=device).expand(n, 2)], dim=1)
        fixed_ok = (fixed >= 0) & (fixed < n)
        repeat = (fixed[:, :, None] == fixed[:, None, :]) & fixed_ok[:, None, :]
        fixed_ok = fixed_ok & ~repeat.tril(diagonal=-1).any(dim=-1)  # a slot repeating an earlier used one
        cols = torch.arange(n, device=device)[None, :]
        allowed = ((cols - rows).abs() > half) & (cols > 0) & (cols < n - 1)
        scores = self.random_ranks[:, :n, :n].to(device).masked_fill(~allowed, -1)
        r = min(self.options.num_random_blocks, n)
        top, randoms = scores.topk(r, dim=-1) if r else (scores[..., :0], scores[..., :0].long())
        table = torch.cat([fixed.clamp(0, n - 1).expand(heads, n, -1), randoms], dim=-1)
        return table, torch.cat([fixed_ok.expand(heads, n, -1), top >= 0], dim=-1)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, _ = q.shape
        w = self.options.block_size
        keys_ok = padded_key_mask(key_mask, b, length, w, q.device)
        n = keys_ok.shape[1] // w
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        table, used = self.block_table(n, q.device)  # (H, n, K)
        head = torch.arange(h, device=q.device)[:, None, None]
        kk = kb[:, head, table].flatten(3, 4)  # (B, H, n, K * w, d)
        vv = vb[:, head, table].flatten(3, 4)
        keep = (keys_ok.view(b, n, w)[:, table] & used[None, ..., None]).flatten(3, 4)  # (B, H, n, K * w)
        out = block_attention(qb, kk, vv, keep[:, :, :, None], self.dropout_p)
        # The global query blocks (first and last) attend to every real key.
        global_ids = torch.tensor(sorted({0, n - 1}), device=q.device)
        qg = qb[:, :, global_ids].flatten(2, 3)
        rows = F.scaled_dot_product_attention(qg, kb.flatten(2, 3), vb.flatten(2, 3),
                                              attn_mask=keys_ok[:, None, None, :], dropout_p=self.dropout_p)
        out = out.index_copy(2, global_ids, rows.view(b, h, len(global_ids), w, -1))
        return out.reshape(b, h, n * w, -1)[:, :, :length]

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        """(1, H, L, L): the block pattern per head, expanded to tokens (the test oracle)."""
        n = math.ceil(length / self.options.block_size)
        table, used = self.block_table(n)
        heads = table.shape[0]
        blocks = torch.zeros(heads, n, n, dtype=torch.bool)
        head = torch.arange(heads)[:, None, None].expand_as(table)
        row = torch.arange(n)[None, :, None].expand_as(table)
        blocks[head[used], row[used], table[used]] = True
        blocks[:, [0, n - 1]] = True
        token = torch.arange(length) // self.options.block_size
        return blocks[:, token][:, :, token][None]
