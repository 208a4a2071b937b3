"""Sparse Sinkhorn attention (Tay et al. 2020).

The sequence is cut into blocks of `block_size` tokens; a sorting network scores block pairs from block
summaries (means of the real queries and keys), Gumbel-Sinkhorn turns the scores into a soft permutation P
(noise only in training), and each query block attends, in one softmax, over [its sorted block
sum_v P_uv K_v ; its own block]. With `num_sortcut_blocks` > 0 (SortCut) every query block instead attends
to the first k sorted blocks plus its own.

As published, not as released: LRA's einsum summed over both block axes, so every "sorted" block was the
sum of all key blocks, and it used a row softmax instead of Sinkhorn and two separate softmaxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, pad_to_blocks, padded_key_mask
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


def log_sinkhorn(logits: Tensor, iterations: int) -> Tensor:
    """Alternate row and column normalisation in log space; exp of the result is (near) doubly stochastic."""
    for _ in range(iterations):
        logits = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        logits = logits - torch.logsumexp(logits, dim=-2, keepdim=True)
    return logits


@dataclass
class SinkhornOptions:
    block_size: int = 50  # LRA: 50 (64 on images)
    sinkhorn_iterations: int = 8
    temperature: float = 0.75
    num_sortcut_blocks: int = 0  # > 0: SortCut, attend to the first k sorted blocks (and the own block)

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"sortcut_blocks": "num_sortcut_blocks"}

    def __post_init__(self) -> None:
        check = OptionChecker("sinkhorn", self)
        check.integer("block_size", minimum=1).integer("sinkhorn_iterations", minimum=1)
        check.number("temperature", minimum=0.0, above=True).integer("num_sortcut_blocks", minimum=0)


@register_attention("sinkhorn", SinkhornOptions, summary="sparse Sinkhorn attention over sorted blocks",
                    test_options={"block_size": 4},
                    length_dependent=True)
class SinkhornAttention(AttentionCore):
    def __init__(self, options: SinkhornOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options

    def permutation(self, q_sum: Tensor, k_sum: Tensor) -> Tensor:
        """(B, H, n, n) soft permutation from block summaries."""
        logits = q_sum @ k_sum.transpose(-1, -2) / math.sqrt(q_sum.shape[-1])
        if self.training:
            uniform = torch.rand_like(logits).clamp(1e-9, 1 - 1e-9)
            logits = logits - torch.log(-torch.log(uniform))
        return log_sinkhorn(logits / self.options.temperature, self.options.sinkhorn_iterations).exp()

    @staticmethod
    def _keep(perm: Tensor, keys_ok: Tensor, cut: int) -> Tensor:
        """(B, H, n, 1, keys): which of the sorted (or sortcut) keys and own keys of each block are real."""
        b, h, n, _ = perm.shape
        w = keys_ok.shape[1] // n
        sorted_ok = torch.einsum("bhuv,bvw->bhuw", perm, keys_ok.view(b, n, w).to(perm.dtype)) > 0
        if cut > 0:
            sorted_ok = sorted_ok[:, :, :cut].flatten(2, 3)[:, :, None].expand(b, h, n, cut * w)
        own_ok = keys_ok.view(b, 1, n, w).expand(b, h, n, w)
        return torch.cat([sorted_ok, own_ok], dim=3)[:, :, :, None, :]

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        w = self.options.block_size
        keys_ok = padded_key_mask(key_mask, b, length, w, q.device)
        n = keys_ok.shape[1] // w
        # Every token real and L a multiple of w: no key is masked anywhere, so skip the masking work.
        unpadded = key_mask is None and length % w == 0
        qb, kb, vb = (pad_to_blocks(t, w).view(b, h, n, w, -1) for t in (q, k, v))
        if unpadded:
            perm = self.permutation(qb.mean(3), kb.mean(3))
        else:
            real = keys_ok.view(b, 1, n, w, 1).to(q.dtype)
            kb, vb = kb * real, vb * real
            count = real.sum(3).clamp(min=1)
            perm = self.permutation((qb * real).sum(3) / count, kb.sum(3) / count)
        sorted_k = torch.einsum("bhuv,bhvwd->bhuwd", perm, kb)
        sorted_v = torch.einsum("bhuv,bhvwd->bhuwd", perm, vb)
        cut = min(self.options.num_sortcut_blocks, n)
        if cut > 0:
            sorted_k = sorted_k[:, :, :cut].flatten(2, 3)[:, :, None].expand(b, h, n, cut * w, d)
            sorted_v = sorted_v[:, :, :cut].flatten(2, 3)[:, :, None].expand(b, h, n, cut * w, -1)
        keys = torch.cat([sorted_k, kb], dim=3)
        values = torch.cat([sorted_v, vb], dim=3)
        keep = None if unpadded else self._keep(perm, keys_ok, cut)
        out = block_attention(qb, keys, values, keep, self.dropout_p)
        return out.reshape(b, h, n * w, -1)[:, :, :length]
