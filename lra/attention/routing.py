"""Routing attention (Roy et al. 2021, the Routing Transformer): content-based sparse attention by k-means.

Queries and keys (unit-normalised) are routed to their nearest of `num_clusters` centroids; tokens are
sorted by (cluster, position) and cut into blocks of `block_size` tokens, and each query block attends to
the key block of the same rank. Every real token is routed exactly once, padding sorts last, and the cost
is O(L * block_size). Centroids are a buffer updated by an exponential moving average of the real tokens
routed to them, in training only. With one cluster and a block covering L, this is full attention.

The paper picks the top-w tokens per centroid (a token may then be in several clusters or none); sorting
balances the blocks instead, as Reformer does for its buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import block_attention, inverse_order, padded_key_mask, take_rows
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class RoutingOptions:
    num_clusters: int = 8
    block_size: int = 128
    decay: float = 0.999  # of the centroids' moving average

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"window": "block_size"}

    def __post_init__(self) -> None:
        check = OptionChecker("routing", self)
        check.integer("num_clusters", minimum=1).integer("block_size", minimum=1).probability("decay")


@register_attention("routing", RoutingOptions, summary="k-means routing attention (Routing Transformer)",
                    test_options={"num_clusters": 3, "block_size": 6})
class RoutingAttention(AttentionCore):
    def __init__(self, options: RoutingOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        centroids = F.normalize(torch.randn(ctx.num_heads, options.num_clusters, ctx.head_dim), dim=-1)
        self.register_buffer("centroids", centroids)

    def route(self, x: Tensor, real: Tensor) -> Tensor:
        """(B, H, P, d) unit vectors -> cluster id per token; padding gets num_clusters."""
        clusters = torch.einsum("bhld,hcd->bhlc", x, self.centroids.to(x.dtype)).argmax(dim=-1)
        return clusters.masked_fill(~real[:, None, :], self.options.num_clusters)

    @torch.no_grad()
    def _update_centroids(self, x: Tensor, clusters: Tensor) -> None:
        c = self.options.num_clusters
        onehot = F.one_hot(clusters, c + 1)[..., :c].to(x.dtype)  # padding (id c) is dropped
        sums = torch.einsum("bhlc,bhld->hcd", onehot, x)
        counts = onehot.sum(dim=(0, 2))[..., None]
        means = torch.where(counts > 0, sums / counts.clamp(min=1), self.centroids.to(x.dtype))
        updated = self.options.decay * self.centroids + (1 - self.options.decay) * means.to(self.centroids.dtype)
        self.centroids.copy_(F.normalize(updated, dim=-1))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, h, length, d = q.shape
        w = min(self.options.block_size, length)
        real = padded_key_mask(key_mask, b, length, w, q.device)
        padded = real.shape[1]
        n = padded // w
        q, k, v = (F.pad(t, (0, 0, 0, padded - length)) for t in (q, k, v))
        qn, kn = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        q_cluster, k_cluster = self.route(qn, real), self.route(kn, real)
        if self.training:
            self._update_centroids(torch.cat([qn, kn], 2), torch.cat([q_cluster, k_cluster], 2))
        positions = torch.arange(padded, device=q.device)
        q_order = (q_cluster * padded + positions).argsort(dim=-1)
        k_order = (k_cluster * padded + positions).argsort(dim=-1)
        sq = take_rows(q, q_order).view(b, h, n, w, d)
        sk, sv = take_rows(k, k_order).view(b, h, n, w, d), take_rows(v, k_order).view(b, h, n, w, -1)
        k_real = real[:, None, :].expand(b, h, padded).gather(2, k_order).view(b, h, n, 1, w)
        out_sorted = block_attention(sq, sk, sv, k_real, self.dropout_p).reshape(b, h, padded, -1)
        out = take_rows(out_sorted, inverse_order(q_order))
        return out[:, :, :length]
