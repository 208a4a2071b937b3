"""The two levels of the mixer interface (DESIGN.md): `SequenceMixer` for anything that mixes along the
sequence, and `AttentionCore` for the attention algorithms that share one multi-head wrapper.

Conventions fixed here once, for every mechanism:
- masks are bool with True = keep (a real token);
- the core receives per-head tensors (B, H, L, d) and scales logits itself;
- rows of padded queries are zeroed by the wrapper, so a core may put anything there;
- a core that needs L to be a multiple of a block pads internally and crops its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from lra.errors import LraError


@dataclass(frozen=True)
class AttentionContext:
    """Shape facts a core may need at construction time."""

    num_heads: int
    head_dim: int
    max_len: int
    causal: bool = False
    attention_dropout: float = 0.0


class SequenceMixer(nn.Module):
    """x: (B, L, D), mask: (B, L) bool True = real token -> (B, L, D); padded rows are zero."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError("abstract: subclasses implement forward")


class AttentionCore(nn.Module):
    """The algorithm alone: (q, k, v, key_mask) -> out, all per head.

    Subclasses set the capability flags and implement `forward`. Pattern-exact mechanisms also implement
    `dense_mask`, which tests use to build the dense oracle.
    """

    causal_supported: ClassVar[bool] = False
    shared_qk: ClassVar[bool] = False  # Reformer: keys are the (normalised) queries
    # True when the output for real tokens depends on how much trailing padding the input has (blocks,
    # buckets or segments laid over the padded length): the trainer then never trims padding.
    length_dependent: ClassVar[bool] = False
    # False for a core that never forms attention weights (kernel methods: linear, performer), so has none
    # to drop: it then refuses attention_dropout > 0 instead of ignoring it.
    attention_weights: ClassVar[bool] = True

    def __init__(self, ctx: AttentionContext) -> None:
        super().__init__()
        if ctx.causal and not self.causal_supported:
            raise ValueError(f"{type(self).__name__} has no causal mode")
        if ctx.attention_dropout > 0 and not self.attention_weights:
            raise LraError(f"{type(self).__name__} forms no attention weights, so attention_dropout="
                           f"{ctx.attention_dropout} would do nothing here (build_mixer passes these cores 0)")
        self.ctx = ctx

    @property
    def dropout_p(self) -> float:
        """The attention dropout to apply now: the configured rate while training, 0 in evaluation."""
        return self.ctx.attention_dropout if self.training else 0.0

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        raise NotImplementedError("abstract: subclasses implement forward")  # pragma: no cover

    def dense_mask(self, length: int, key_mask: Tensor | None = None) -> Tensor | None:
        """(B|1, H|1, L, L) bool keep-mask equivalent to this core's pattern, or None if not pattern-exact."""
        return None


class MultiHeadAttention(SequenceMixer):
    """LRA's attention layer: q/k/v/o projections without bias (xavier-uniform), heads, one core."""

    def __init__(self, dim: int, qkv_dim: int, core: AttentionCore) -> None:
        super().__init__()
        heads = core.ctx.num_heads
        if qkv_dim % heads:
            raise ValueError(f"qkv_dim={qkv_dim} is not divisible by num_heads={heads}")
        self.num_heads = heads
        self.core = core
        self.q_proj = nn.Linear(dim, qkv_dim, bias=False)
        self.k_proj = None if core.shared_qk else nn.Linear(dim, qkv_dim, bias=False)
        self.v_proj = nn.Linear(dim, qkv_dim, bias=False)
        self.out_proj = nn.Linear(qkv_dim, dim, bias=False)
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if proj is not None:
                nn.init.xavier_uniform_(proj.weight)

    def _heads(self, t: Tensor) -> Tensor:
        b, length, _ = t.shape
        return t.view(b, length, self.num_heads, -1).transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q = self._heads(self.q_proj(x))
        k = q if self.k_proj is None else self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        out = self.core(q, k, v, mask)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        out = self.out_proj(out)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out


def masked_fill_value(dtype: torch.dtype) -> float:
    """A large finite negative: masked logits vanish in softmax without turning a fully masked row into NaN."""
    return torch.finfo(dtype).min / 2
