"""Performer (Choromanski et al. 2021): FAVOR+, an unbiased positive-feature estimate of softmax attention.

phi(x) = exp(W x' - |x'|^2 / 2 - c) / sqrt(m) with x' = x d^-1/4 and W's rows orthogonal in blocks of d
(norms drawn from a chi distribution, so each row looks Gaussian); then attention is linear in L through
`kernel_attention`. c stabilises exp: per query row for queries (it cancels in the normaliser) and one
constant over the real keys for keys. Padded keys get phi = 0. The generalised ReLU kernel is
phi(x) = relu(W x') + eps. The projection is a buffer drawn at construction; in training it is redrawn
every `redraw_interval` forward passes (a counter buffer), never in eval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.linear import kernel_attention, zero_padded
from lra.attention.registry import register_attention


def orthogonal_gaussian(rows: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """rows x dim matrix: stacked blocks of orthonormal rows, each row rescaled to a chi(dim) norm."""
    blocks = []
    for _ in range(math.ceil(rows / dim)):
        gaussian = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
        q, _ = torch.linalg.qr(gaussian)
        blocks.append(q.T)
    matrix = torch.cat(blocks)[:rows]
    norms = torch.randn(rows, dim, generator=generator, dtype=torch.float64).norm(dim=1)
    return (matrix * norms[:, None]).float()


def softmax_features(x: Tensor, projection: Tensor, is_query: bool, key_mask: Tensor | None = None) -> Tensor:
    x = x * x.shape[-1] ** -0.25
    proj = torch.einsum("bhld,md->bhlm", x, projection.to(x.dtype))
    half_norm = x.pow(2).sum(-1, keepdim=True) / 2
    if is_query:
        stabiliser = proj.amax(dim=-1, keepdim=True)
    else:
        real = proj if key_mask is None else proj.masked_fill(~key_mask[:, None, :, None], float("-inf"))
        stabiliser = real.amax(dim=(-1, -2), keepdim=True)
    return torch.exp(proj - half_norm - stabiliser) / math.sqrt(projection.shape[0])


def relu_features(x: Tensor, projection: Tensor, eps: float = 1e-3) -> Tensor:
    x = x * x.shape[-1] ** -0.25
    return torch.relu(torch.einsum("bhld,md->bhlm", x, projection.to(x.dtype))) + eps


@dataclass
class PerformerOptions:
    nb_features: int = 256
    kernel: str = "softmax"  # softmax (FAVOR+) | relu (generalised ReLU kernel)
    redraw_interval: int = 1000  # training forward passes between redraws; 0 = never
    # Added to the normaliser. 0 by default: the features are strictly positive, and an additive eps would
    # not cancel with the key stabiliser (in causal mode it would let later keys leak into earlier rows).
    eps: float = 0.0
    chunk: int = 128  # causal mode only


@register_attention("performer", PerformerOptions, summary="FAVOR+ random-feature softmax (Performer)",
                    test_options={"nb_features": 16, "chunk": 8})
class PerformerAttention(AttentionCore):
    causal_supported = True

    def __init__(self, options: PerformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        if options.kernel not in ("softmax", "relu"):
            raise ValueError(f"performer kernel {options.kernel!r}: expected softmax or relu")
        self.options = options
        self.register_buffer("projection", orthogonal_gaussian(options.nb_features, ctx.head_dim))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def redraw(self) -> None:
        self.projection.copy_(orthogonal_gaussian(self.options.nb_features, self.ctx.head_dim))

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        if self.training and self.options.redraw_interval > 0:
            if self.calls > 0 and self.calls % self.options.redraw_interval == 0:
                self.redraw()
            self.calls += 1
        dtype = torch.float32 if q.dtype in (torch.float16, torch.bfloat16) else q.dtype
        q, k = q.to(dtype), k.to(dtype)
        if self.options.kernel == "softmax":
            q_feat = softmax_features(q, self.projection, is_query=True)
            k_feat = softmax_features(k, self.projection, is_query=False, key_mask=key_mask)
        else:
            q_feat, k_feat = relu_features(q, self.projection), relu_features(k, self.projection)
        k_feat = zero_padded(k_feat, key_mask)
        out = kernel_attention(q_feat, k_feat, v.to(dtype), self.ctx.causal, self.options.eps, self.options.chunk)
        return out.to(v.dtype)
