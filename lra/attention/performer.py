"""Performer (Choromanski et al. 2021): FAVOR+, an unbiased positive-feature estimate of softmax attention.

phi(x) = exp(W x' - |x'|^2 / 2 - c) / sqrt(m) with x' = x d^-1/4 and W's rows orthogonal in blocks of d
(each block the transpose of a Haar-random orthogonal matrix: Q of a Gaussian matrix's QR with the signs of
diag(R) put back, see `orthogonal_gaussian`; norms drawn from a chi distribution, so each row is marginally
N(0, I), LRA's ortho_scaling=0, and E[phi(q) . phi(k)] = exp(q . k / sqrt(d)) exactly). Attention
is then linear in L through `kernel_attention` (causal mode: prefix sums). The stabiliser c cancels in the
normalisation: per query row for queries, one constant per (sequence, head) over the real keys for keys.

Kernels (`kernel`):
- "softmax": FAVOR+ as above (LRA's ListOps config, with num_features=2 for its nb_features=2);
- "relu": the generalised kernel phi(x) = relu(W x') + 1e-3 with the same random features;
- "relu_deterministic": phi(x) = relu(x) + 1e-3 on the raw head features, no projection. This is what
  LRA's default `generalized` / `deterministic` Performer actually ran on text, retrieval, image, Pathfinder.

Deviations from LRA: padded keys get phi = 0 (LRA applied no mask at all); the normaliser has no additive
stabiliser by default (LRA added 1e-6 to the features, which does not cancel with the key stabiliser and in
causal mode would let later keys leak into earlier rows); the features are redrawn on a schedule from a seed
buffer instead of being reseeded from ceil(sum(query) * 1e7) on every call.

Redraws: the projection is drawn at construction from a seed taken from the global torch RNG, and redrawn
from (seed, number of redraws) after every `redraw_interval` training forward passes run with gradients
(a counter buffer; 0 = never). Eval and no-grad passes never count or redraw, so a reversible block's no-grad
forward and its recomputation see the same features, and every DDP rank draws the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import full_precision, kernel_attention, zero_padded
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention

KERNELS = ("softmax", "relu", "relu_deterministic")
RANDOM_FEATURE_KERNELS = ("softmax", "relu")
RELU_EPS = 1e-3  # LRA's generalized-kernel stabiliser


def orthogonal_gaussian(rows: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """rows x dim float64 matrix: stacked blocks of dim orthonormal rows, each row rescaled to a chi(dim)
    norm (the norm of a Gaussian vector), so every row is marginally N(0, I).

    Each block is Q^T from the QR decomposition of a Gaussian matrix, with Q's columns multiplied by the
    signs of R's diagonal, which makes Q Haar-distributed (uniform over orthogonal matrices). Without that
    correction it is not: Householder QR (LAPACK, hence torch.linalg.qr) fixes R's diagonal signs by a rule
    of its own, so row i of each block leans towards -e_i (the mean of its i-th coordinate is about -0.8
    instead of 0; +0.3..+0.6 on the last row) and the FAVOR+ estimate of exp(q.k / sqrt(d)) is biased by an
    amount that more features do not remove.
    """
    blocks = math.ceil(rows / dim)
    gaussian = torch.randn(blocks, dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    signs = torch.where(torch.diagonal(r, dim1=-2, dim2=-1) < 0, -1.0, 1.0).to(q.dtype)
    orthonormal = (q * signs[..., None, :]).transpose(-1, -2)  # Haar; the rows of each block are orthonormal
    matrix = orthonormal.reshape(blocks * dim, dim)[:rows]
    norms = torch.randn(rows, dim, generator=generator, dtype=torch.float64).norm(dim=1)
    return matrix * norms[:, None]


def softmax_features(x: Tensor, projection: Tensor, is_query: bool, key_mask: Tensor | None = None) -> Tensor:
    """FAVOR+ positive features (B, H, L, m) of x (B, H, L, d); keys are stabilised over real keys only."""
    x = x * x.shape[-1] ** -0.25
    proj = torch.einsum("bhld,md->bhlm", x, projection.to(x.dtype))
    # Everything subtracted is (B, H, L, 1) or smaller, so the m-wide tensor is touched twice (subtract,
    # exp). The stabiliser is detached: a query's scale cancels in its own row of the ratio and the keys'
    # is one constant per (batch, head), so with eps = 0 (the default) its exact gradient is zero.
    with torch.no_grad():
        if is_query:
            stabiliser = proj.amax(dim=-1, keepdim=True)
        else:
            real = proj if key_mask is None else proj.masked_fill(~key_mask[:, None, :, None], float("-inf"))
            stabiliser = real.amax(dim=(-1, -2), keepdim=True)
            stabiliser = stabiliser.masked_fill(torch.isinf(stabiliser), 0.0)  # a sequence with no real key
    offset = x.pow(2).sum(-1, keepdim=True) / 2 + stabiliser + 0.5 * math.log(projection.shape[0])
    return torch.exp(proj - offset)


def relu_features(x: Tensor, projection: Tensor | None) -> Tensor:
    if projection is not None:
        x = torch.einsum("bhld,md->bhlm", x * x.shape[-1] ** -0.25, projection.to(x.dtype))
    return torch.relu(x) + RELU_EPS


@dataclass
class PerformerOptions:
    num_features: int = 256  # m, the random features; LRA ListOps: 2 (set by the paper preset)
    kernel: str = "softmax"  # softmax | relu | relu_deterministic (see the module docstring)
    redraw_interval: int = 1000  # counted training passes between redraws; 0 = never
    eps: float = 0.0  # added to the normaliser (see the module docstring for why not LRA's 1e-6)
    chunk_size: int = 128  # causal mode only: positions per chunk of the prefix sums

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"nb_features": "num_features", "chunk": "chunk_size"}

    def __post_init__(self) -> None:
        check = OptionChecker("performer", self)
        check.integer("num_features", minimum=1).choice("kernel", KERNELS).integer("redraw_interval", minimum=0)
        check.number("eps", minimum=0.0).integer("chunk_size", minimum=1)
        # relu_deterministic has no random projection: nothing to size or redraw.
        check.unused_unless("num_features", "kernel", RANDOM_FEATURE_KERNELS)
        check.unused_unless("redraw_interval", "kernel", RANDOM_FEATURE_KERNELS)


@register_attention("performer", PerformerOptions, summary="FAVOR+ random-feature softmax (Performer)",
                    test_options={"num_features": 16, "chunk_size": 8},
                    causal=True, has_attention_weights=False)
class PerformerAttention(AttentionCore):
    def __init__(self, options: PerformerOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options
        self.register_buffer("seed", torch.randint(0, 2**62, (), dtype=torch.long))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("projection", self.draw(0).float())

    def draw(self, index: int) -> Tensor:
        """The index-th projection of this module: a pure function of (seed, index)."""
        generator = torch.Generator().manual_seed(int(self.seed) + index)
        return orthogonal_gaussian(self.options.num_features, self.ctx.head_dim, generator)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        out_dtype = v.dtype
        dtype, no_autocast = full_precision(q)
        with no_autocast:
            q, k, v = q.to(dtype), k.to(dtype), zero_padded(v.to(dtype), key_mask)
            # A copy (m x d, cheap): a redraw after this pass rewrites the buffer in place, and the
            # autograd graph of this pass must keep the features it used.
            projection = self.projection.clone()
            if self.options.kernel == "softmax":
                q_feat = softmax_features(q, projection, is_query=True)
                k_feat = softmax_features(k, projection, is_query=False, key_mask=key_mask)
            else:
                projection = projection if self.options.kernel == "relu" else None
                q_feat, k_feat = relu_features(q, projection), relu_features(k, projection)
            k_feat = zero_padded(k_feat, key_mask)
            out = kernel_attention(q_feat, k_feat, v, self.ctx.causal, self.options.eps, self.options.chunk_size)
        if self.training and torch.is_grad_enabled() and self.options.redraw_interval > 0:
            self._count_and_maybe_redraw()
        return out.to(out_dtype)

    @torch.no_grad()
    def _count_and_maybe_redraw(self) -> None:
        interval = self.options.redraw_interval
        self.calls += 1
        if int(self.calls) % interval == 0:
            self.projection.copy_(self.draw(int(self.calls) // interval))
