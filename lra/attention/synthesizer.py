"""Synthesizer (Tay et al. 2021): attention weights synthesised without (or beside) query-key dot products.

- dense:  logits B_h = relu(q W1_h) W2_h with W2_h in R^{d x max_len}; row i depends on token i only, and
  the first L columns are kept;
- random: a (H, max_len, max_len) logits table R, sliced to [:L, :L], independent of the input; learned,
  or frozen (then a buffer, not a parameter) with trainable_random=False;
- factorized_random: R = R1 R2^T with R1, R2 in R^{max_len x rank}.
`mix_dot_product` adds the ordinary q k^T / sqrt(d) logits (the "+ vanilla" variants). Padded keys are
masked in every mode (LRA skipped the mask when the dot product was off); causal mode masks later keys.

LRA defaults: its encoder ran mode "random" with ignore_dot_product=False, i.e. dot-product attention plus a
learned random bias, so mix_dot_product defaults to True. The text config's factorized_random / k=32 /
ignore_dot_product=True sat at a level its train.py never read; rank 32 is kept as the factorized default.
Deviations: dense mode works on the per-head queries and keeps its heads apart (LRA's dense mode reshaped
(B, L, H, max_len) to (B, H, L, max_len), mixing heads and positions), and has no biases; tables use a
per-head xavier init.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import check_length, masked_fill_value
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention

MODES = ("dense", "random", "factorized_random")


def per_head_xavier(heads: int, rows: int, cols: int) -> Tensor:
    """(heads, rows, cols), each head's matrix xavier-uniform for its own fans (rows in, cols out)."""
    bound = math.sqrt(6.0 / (rows + cols))
    return torch.empty(heads, rows, cols).uniform_(-bound, bound)


@dataclass
class SynthesizerOptions:
    mode: str = "random"  # dense | random | factorized_random
    rank: int = 32  # factorized_random only
    mix_dot_product: bool = True  # LRA's ignore_dot_product=False
    trainable_random: bool = True  # random modes: False freezes the table (a buffer)

    def __post_init__(self) -> None:
        check = OptionChecker("synthesizer", self)
        check.choice("mode", MODES).integer("rank", minimum=1).flag("mix_dot_product").flag("trainable_random")
        check.unused_unless("rank", "mode", ("factorized_random",))
        check.unused_unless("trainable_random", "mode", ("random", "factorized_random"))


@register_attention("synthesizer", SynthesizerOptions, summary="synthesised attention weights (dense/random)",
                    test_options={},
                    causal=True)
class SynthesizerAttention(AttentionCore):
    def __init__(self, options: SynthesizerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        heads, n, d = ctx.num_heads, ctx.max_len, ctx.head_dim
        if options.mode == "dense":
            self.w1 = nn.Parameter(per_head_xavier(heads, d, d))
            self.w2 = nn.Parameter(per_head_xavier(heads, d, n))
            return
        if options.mode == "random":
            tables = [per_head_xavier(heads, n, n)]
        else:
            tables = [per_head_xavier(heads, n, options.rank), per_head_xavier(heads, n, options.rank)]
        for i, table in enumerate(tables):
            if options.trainable_random:
                self.register_parameter(f"table{i}", nn.Parameter(table))
            else:
                self.register_buffer(f"table{i}", table)

    def synthesised_logits(self, q: Tensor) -> Tensor:
        """(B|1, H, L, L) logits of the synthetic part."""
        length = q.shape[2]
        check_length("synthesizer", length, self.ctx.max_len)
        if self.options.mode == "dense":
            hidden = torch.relu(torch.einsum("bhld,hde->bhle", q, self.w1.to(q.dtype)))
            return torch.einsum("bhle,hem->bhlm", hidden, self.w2[:, :, :length].to(q.dtype))
        if self.options.mode == "random":
            return self.table0[:, :length, :length].to(q.dtype).unsqueeze(0)
        r1, r2 = self.table0[:, :length].to(q.dtype), self.table1[:, :length].to(q.dtype)
        return torch.einsum("hik,hjk->hij", r1, r2).unsqueeze(0)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        logits = self.synthesised_logits(q)
        if self.options.mix_dot_product:
            logits = logits + torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])
        length = q.shape[2]
        keep = torch.ones(1, 1, length, length, dtype=torch.bool, device=q.device)
        if key_mask is not None:
            keep = keep & key_mask[:, None, None, :]
        if self.ctx.causal:
            keep = keep & torch.ones(length, length, dtype=torch.bool, device=q.device).tril()
        weights = logits.masked_fill(~keep, masked_fill_value(logits.dtype)).softmax(dim=-1)
        if self.dropout_p > 0:
            weights = F.dropout(weights, self.dropout_p)
        # Pad values are zeroed too: a masked weight is exactly 0, but 0 * inf would still be nan.
        if key_mask is not None:
            v = torch.where(key_mask[:, None, :, None], v, v.new_zeros(()))
        return torch.einsum("bhqk,bhkd->bhqd", weights, v)
