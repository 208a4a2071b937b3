"""Segment recurrence (Transformer-XL, Dai et al. 2019): the sequence is cut into segments of `segment_size`
tokens, and each segment attends to itself and to the cached memory of the `num_memory_segments` segments
before it, with the gradient stopped at that memory. Time and memory are O(L * segment_size).

Transformer-XL runs the segments one after another, carrying the memory forward; with the whole sequence
given, every segment's memory is known at once, so the segments run in parallel here (`recurrent_ref` runs
them one by one with an explicit cache, and the tests hold the two equal). Causal mode keeps j <= i inside
the segment; the memory is always earlier.

Differences from Transformer-XL, kept on purpose: the gradient stops at the memory's keys and values, which
is all a core receives (Transformer-XL stops it at the hidden states, so its key and value projections still
learn through the memory); positions are the model's absolute ones, not Transformer-XL's relative encoding.
Forward values are exact against the oracle with `dense_mask`; only gradients differ, by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, look_around, pad_to_blocks, padded_key_mask
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class RecurrentOptions:
    segment_size: int = 128
    num_memory_segments: int = 1  # how many earlier segments each segment reads from memory

    def __post_init__(self) -> None:
        OptionChecker("recurrent", self).integer("segment_size", minimum=1).integer("num_memory_segments", minimum=0)


@register_attention("recurrent", RecurrentOptions, summary="segment recurrence with gradient-stopped memory "
                    "(Transformer-XL)", test_options={"segment_size": 6}, causal=True, exposes_weights=True)
class RecurrentAttention(AttentionCore):
    def __init__(self, options: RecurrentOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, _ = q.shape
        s, m = self.options.segment_size, self.options.num_memory_segments
        keys_ok = padded_key_mask(key_mask, b if key_mask is not None else 1, length, s, q.device)
        n = keys_ok.shape[1] // s
        qb, kb, vb = (pad_to_blocks(t, s).view(b, h, n, s, -1) for t in (q, k, v))
        # Memory: the m segments before, detached; then the segment itself, with its gradient.
        kk = torch.cat([look_around(kb.detach(), m, 0, block_dim=2)[..., : m * s, :], kb], dim=-2)
        vv = torch.cat([look_around(vb.detach(), m, 0, block_dim=2)[..., : m * s, :], vb], dim=-2)
        keep = look_around(keys_ok.view(-1, n, s), m, 0, block_dim=1, fill=False)[:, None, :, None, :]
        if self.ctx.causal:
            pos = torch.arange(n * s, device=q.device).view(n, s)
            key_pos = look_around(pos, m, 0, block_dim=0, fill=-1)
            keep = keep & (key_pos[:, None, :] <= pos[:, :, None])
        out = block_attention(qb, kk, vv, keep, self.dropout_p)
        return out.reshape(b, h, n * s, -1)[:, :, :length]

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor:
        segment = torch.arange(length) // self.options.segment_size
        offset = segment[None, :] - segment[:, None]  # key segment minus query segment
        keep = (offset <= 0) & (offset >= -self.options.num_memory_segments)
        if self.ctx.causal:
            keep = keep & torch.ones(length, length, dtype=torch.bool).tril()
        return keep[None, None]


def recurrent_ref(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None, segment_size: int,
                  num_memory_segments: int, causal: bool = False) -> Tensor:
    """Transformer-XL's loop: segment by segment, attending to [detached memory, segment], then the memory
    cache is updated with this segment's keys and values. float64; (B, H, L, d) in and out."""
    b, h, length, d = q.shape
    q, k, v = q.double(), k.double(), v.double()
    key_mask = torch.ones(b, length, dtype=torch.bool) if key_mask is None else key_mask
    memory: list[tuple[Tensor, Tensor, Tensor]] = []  # (keys, values, key mask) of earlier segments
    outputs = []
    for start in range(0, length, segment_size):
        stop = min(start + segment_size, length)
        cached = memory[-num_memory_segments:] if num_memory_segments else []
        keys = torch.cat([c[0] for c in cached] + [k[:, :, start:stop]], dim=2)
        values = torch.cat([c[1] for c in cached] + [v[:, :, start:stop]], dim=2)
        keep = torch.cat([c[2] for c in cached] + [key_mask[:, start:stop]], dim=1)[:, None, None, :]
        logits = q[:, :, start:stop] @ keys.transpose(-1, -2) / d**0.5
        keep = keep.expand(b, 1, stop - start, keys.shape[2])
        if causal:
            own = torch.ones(stop - start, stop - start, dtype=torch.bool).tril()
            earlier = torch.ones(stop - start, keys.shape[2] - (stop - start), dtype=torch.bool)
            keep = keep & torch.cat([earlier, own], dim=1)
        weights = logits.masked_fill(~keep, float("-inf")).softmax(-1).nan_to_num(0.0)
        outputs.append(weights @ values)
        memory.append((k[:, :, start:stop].detach(), v[:, :, start:stop].detach(), key_mask[:, start:stop]))
    return torch.cat(outputs, dim=2)
