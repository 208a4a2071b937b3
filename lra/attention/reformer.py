"""Reformer LSH attention (Kitaev et al. 2020), shared-QK.

Per hash round: keys are the unit-normalised queries; angular LSH with random rotations assigns each real
token a bucket (padding gets a bucket after all real ones, so it sorts to the end whatever its content);
tokens are sorted by (bucket, position) and cut into chunks of `block_size` tokens; each chunk attends to itself
and the previous chunk (wrapping). A token does not attend to itself unless nothing else is available
(its logit gets -5e4). Rounds are combined by their log-sum-exps; outputs are unsorted.

Deviations from LRA's code, which multiplied logits by sqrt(d), did not normalise keys, and had no self or
padding masks: we follow the published algorithm. LRA used a fixed n_buckets = 10 (chunks of L/10);
here the chunk size is fixed (`block_size`) and n_buckets = L / block_size, as in the trax and lucidrains
implementations, so the cost is linear in L. Rotations come from a seed buffer drawn at construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, inverse_order, merge_partial, padded_key_mask, take_rows
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention

SELF_LOGIT = -5e4


@dataclass
class ReformerOptions:
    block_size: int = 32  # the chunk length of the sorted sequence (lucidrains' and trax's bucket_size)
    num_hashes: int = 1  # LRA: 1

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"bucket_size": "block_size", "n_hashes": "num_hashes"}

    def __post_init__(self) -> None:
        OptionChecker("reformer", self).integer("block_size", minimum=1).integer("num_hashes", minimum=1)


# No causal mode: a later token's bucket moves the chunk boundaries, so which keys an earlier query
# sees would depend on later inputs (the no-leak test catches it).
@register_attention("reformer", ReformerOptions, summary="LSH attention with shared QK (Reformer)",
                    test_options={"block_size": 4, "num_hashes": 2},
                    shared_qk=True, length_dependent=True)
class ReformerAttention(AttentionCore):
    def __init__(self, options: ReformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.register_buffer("seed", torch.randint(0, 2**31 - 1, ()))

    def n_buckets(self, length: int) -> int:
        chunks = max(2, math.ceil(length / self.options.block_size))
        return chunks + chunks % 2  # angular LSH needs an even count

    def buckets(self, keys: Tensor, n_buckets: int, real: Tensor) -> Tensor:
        """(B, H, L) unit keys -> (rounds, B, H, L) bucket ids; padding gets bucket n_buckets."""
        g = torch.Generator().manual_seed(int(self.seed) + 7919 * n_buckets)
        rotations = torch.randn(self.options.num_hashes, keys.shape[-1], n_buckets // 2, generator=g)
        rotated = torch.einsum("bhld,rdk->rbhlk", keys, rotations.to(keys.device, keys.dtype))
        ids = torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)
        return ids.masked_fill(~real[None, :, None, :], n_buckets)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        c = self.options.block_size
        n_b = self.n_buckets(length)
        padded = n_b * c
        real = padded_key_mask(key_mask, b, length, padded, q.device)[:, :padded]
        q = F.pad(q, (0, 0, 0, padded - length))
        v = F.pad(v, (0, 0, 0, padded - length))
        keys = F.normalize(q, dim=-1)
        positions = torch.arange(padded, device=q.device)
        all_real = key_mask is None and padded == length
        parts = []
        for bucket in self.buckets(keys, n_b, real):
            order = (bucket * padded + positions).argsort(dim=-1)  # (B, H, P)
            parts.append(self._round(q, v, None if all_real else real, order, n_b, c,
                                     with_lse=self.options.num_hashes > 1))
        out = merge_partial(parts) if len(parts) > 1 else parts[0][0]
        return out[:, :, :length]

    def _round(self, q: Tensor, v: Tensor, real: Tensor | None, order: Tensor, n_b: int, c: int,
               with_lse: bool) -> tuple[Tensor, Tensor | None]:
        b, h, padded, d = q.shape
        sq, sv = take_rows(q, order).view(b, h, n_b, c, d), take_rows(v, order).view(b, h, n_b, c, -1)
        sk = F.normalize(sq, dim=-1)  # the sorted keys: normalising after the sort saves a gather
        with_prev = lambda t: torch.cat([t, t.roll(1, dims=2)], dim=3)  # noqa: E731
        kk, vv = with_prev(sk), with_prev(sv)
        # Each chunk holds distinct tokens (n_b >= 2), so a query's own key is the diagonal of its own chunk.
        is_self = torch.eye(c, 2 * c, dtype=torch.bool, device=q.device)
        kreal = None if real is None else with_prev(
            real[:, None, :].expand(b, h, padded).gather(2, order).view(b, h, n_b, c))[:, :, :, None, :]
        inverse = inverse_order(order)
        if not with_lse:
            # One round keeps no log-sum-exp, so the fused kernel attends. The self logit is added as a bias
            # rather than set, which after exp is the same: both vanish beside any other key, and alone
            # either gets all the weight.
            bias = torch.zeros(c, 2 * c, dtype=q.dtype, device=q.device).masked_fill(is_self, SELF_LOGIT)
            if kreal is not None:
                bias = bias.masked_fill(~kreal, float("-inf"))
            out_sorted = block_attention(sq, kk, vv, bias[None, None, None] if kreal is None else bias,
                                         self.dropout_p)
            return take_rows(out_sorted.reshape(b, h, padded, -1), inverse), None
        logits = torch.einsum("bhnqd,bhnkd->bhnqk", sq, kk) / math.sqrt(d)
        logits = logits.masked_fill(is_self, SELF_LOGIT)
        if kreal is not None:
            logits = logits.masked_fill(~kreal, float("-inf"))
        lse = torch.logsumexp(logits, dim=-1, keepdim=True)
        weights = torch.exp(logits - lse.masked_fill(torch.isinf(lse), 0.0))
        if self.dropout_p > 0:
            weights = F.dropout(weights, self.dropout_p)
        out_sorted = torch.einsum("bhnqk,bhnkd->bhnqd", weights, vv).reshape(b, h, padded, -1)
        return take_rows(out_sorted, inverse), lse.reshape(b, h, padded).gather(2, inverse)
