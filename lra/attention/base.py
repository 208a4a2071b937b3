"""The two levels of the mixer interface: `SequenceMixer` for anything that mixes along the
sequence, and `AttentionCore` for the attention algorithms that share one multi-head wrapper.

Conventions fixed here once, for every mechanism:
- masks are bool with True = keep (a real token);
- the core receives per-head tensors (B, H, L, d) and scales logits itself;
- rows of padded queries are zeroed by the wrapper, so a core may put anything there;
- a core that needs L to be a multiple of a block pads internally and crops its output.

Names, one scheme for every mechanism (its options dataclass, its classes, the registry):
- a length in tokens ends in `_size` (`block_size`, `chunk_size`, `summary_size`, `projected_size`);
  `window` is reserved for the band width of sliding-window attention (longformer's `window`);
- a count is `num_<things>` (`num_hashes`, `num_features`, `num_global_tokens`); an iteration count may be
  `<algorithm>_iterations` (`sinkhorn_iterations`, `pinv_iterations`);
- classes are `<Name>Attention` (an AttentionCore) or `<Name>Mixer` (a SequenceMixer), with `<Name>Options`.
An options dataclass that renamed a field lists it in `RENAMED: ClassVar[dict[str, str]]` (old -> new):
`registry.make_options` still accepts the old name for a release, with a FutureWarning naming the new one,
so configs written earlier (a run directory's config.json) keep loading and resuming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


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


class SequenceEncoder(nn.Module):
    """A whole encoder brought from outside: tokens (B, L) long, 0 = padding -> (features (B, L', emb_dim),
    mask (B, L') bool True = real). lra keeps the task heads, pooling (model.pooling: under "cls" and
    "first" position 0 is read, so an encoder used with them puts its summary there), two-tower retrieval
    and the training protocol. `__init__(self, options, config: ModelConfig, vocab_size: int, max_len: int)`.
    """

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        raise NotImplementedError("abstract: subclasses implement forward")


class AttentionCore(nn.Module):
    """The algorithm alone: (q, k, v, key_mask) -> out, all per head.

    Subclasses implement `forward`; their capabilities are declared where they are registered.
    Pattern-exact mechanisms also implement `dense_mask`, which tests use to build the dense oracle.
    """

    # The registry entry (set by @register_attention): capabilities are declared there, once.
    spec: ClassVar[Any] = None

    def __init__(self, ctx: AttentionContext) -> None:
        super().__init__()
        if self.spec is not None:
            self.spec.check_context(ctx.causal, ctx.attention_dropout)
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

    def softmax_weights(self, q: Tensor, k: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """(B, H, L, L) float64 attention weights, written out: softmax of the scaled logits over the keys
        that `dense_mask`, the key mask and causality keep. Exact for the mechanisms registered with
        `exposes_weights` (what `lra span` reads); a core whose rows differ from that rule overrides it."""
        from lra.attention.ops import combine_masks

        length = q.shape[-2]
        keep = combine_masks(length, length, key_mask, self.ctx.causal, self.dense_mask(length, key_mask),
                             device=q.device)
        logits = torch.einsum("bhqd,bhkd->bhqk", q.double(), k.double()) / math.sqrt(q.shape[-1])
        if keep is not None:
            logits = logits.masked_fill(~keep, float("-inf"))
        return logits.softmax(dim=-1).nan_to_num(0.0)


class MultiHeadAttention(SequenceMixer):
    """LRA's attention layer: q/k/v/o projections without bias (xavier-uniform), heads, one core."""

    def __init__(self, dim: int, qkv_dim: int, core: AttentionCore) -> None:
        super().__init__()
        heads = core.ctx.num_heads
        if qkv_dim % heads:
            raise ValueError(f"qkv_dim={qkv_dim} is not divisible by num_heads={heads}")
        self.num_heads = heads
        # Heads are found from head_dim, so a tensor-parallel rank holding a slice of the projections' output
        # channels (lra/distributed.py) sees its own heads.
        self.head_dim = qkv_dim // heads
        self.core = core
        self.q_proj = nn.Linear(dim, qkv_dim, bias=False)
        shared_qk = core.spec is not None and core.spec.shared_qk
        self.k_proj = None if shared_qk else nn.Linear(dim, qkv_dim, bias=False)
        self.v_proj = nn.Linear(dim, qkv_dim, bias=False)
        self.out_proj = nn.Linear(qkv_dim, dim, bias=False)
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if proj is not None:
                nn.init.xavier_uniform_(proj.weight)

    def _heads(self, t: Tensor) -> Tensor:
        b, length, _ = t.shape
        return t.view(b, length, -1, self.head_dim).transpose(1, 2)

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
