"""Synthesizer (Tay et al. 2021): attention weights synthesised without (or beside) query-key dot products.

- dense:  B_h = relu(q W1) W2 with W2 in R^{d x max_len}, sliced to the first L columns;
- random: a learned (H, max_len, max_len) logits table R, independent of the input;
- factorized_random: R = R1 R2^T with rank k.
`mix_dot_product` adds the ordinary q k^T / sqrt(d) logits (the "+ vanilla" variants). Padded keys are
masked in every mode. LRA's image configs use mode "random"; its text config named
factorized_random with k=32 at a level its train.py never read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore, masked_fill_value
from lra.attention.registry import register_attention
from lra.errors import LraError

MODES = ("dense", "random", "factorized_random")


@dataclass
class SynthesizerOptions:
    mode: str = "random"
    rank: int = 32  # factorized_random only
    mix_dot_product: bool = False
    trainable_random: bool = True  # random modes: a fixed table is a buffer, not a parameter


@register_attention("synthesizer", SynthesizerOptions, summary="synthesised attention weights (dense/random)",
                    test_options={"rank": 4, "mix_dot_product": True})
class SynthesizerAttention(AttentionCore):
    causal_supported = True

    def __init__(self, options: SynthesizerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        if options.mode not in MODES:
            raise ValueError(f"synthesizer mode {options.mode!r}: expected one of {', '.join(MODES)}")
        self.options = options
        heads, n, d = ctx.num_heads, ctx.max_len, ctx.head_dim
        if options.mode == "dense":
            self.w1 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(heads, d, d)))
            self.w2 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(heads, d, n)))
        else:
            shapes = [(heads, n, n)] if options.mode == "random" else [(heads, n, options.rank)] * 2
            tables = [nn.init.xavier_uniform_(torch.empty(*shape)) for shape in shapes]
            for i, table in enumerate(tables):
                if options.trainable_random:
                    self.register_parameter(f"table{i}", nn.Parameter(table))
                else:
                    self.register_buffer(f"table{i}", table)

    def synthesised_logits(self, q: Tensor) -> Tensor:
        length = q.shape[2]
        if length > self.ctx.max_len:
            raise LraError(f"synthesizer was built for max_len={self.ctx.max_len}; got a sequence of {length}")
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
        if self.training and self.ctx.attention_dropout > 0:
            weights = F.dropout(weights, self.ctx.attention_dropout)
        return torch.einsum("bhqk,bhkd->bhqd", weights, v)
