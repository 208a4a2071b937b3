"""Linear Transformer (Katharopoulos et al. 2020): softmax replaced by the kernel phi(x) = elu(x) + 1.

out_i = phi(q_i) . sum_j phi(k_j) v_j^T / (phi(q_i) . sum_j phi(k_j) + eps): O(L d^2) instead of O(L^2 d).
As in LRA: eps = 1e-6 in the denominator, no 1/sqrt(d), no attention dropout (there is no weight matrix:
attention_dropout > 0 is refused).
Unlike LRA, padded keys are removed: phi(k) and v are zeroed there (LRA ignored padding).

The causal form is the prefix-sum recurrence S_t = S_{t-1} + phi(k_t) v_t^T, z_t = z_{t-1} + phi(k_t),
evaluated per chunk of `chunk_size` positions: exact quadratic attention inside a chunk plus the running
(m x d) state of earlier chunks, so memory is O(L * chunk_size + m d) rather than the O(L m d) of a full
cumsum. The loop is over chunks, never positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import AttentionContext, AttentionCore
from lra.attention.ops import full_precision, kernel_attention, zero_padded
from lra.attention.options import OptionChecker
from lra.attention.registry import register_attention


@dataclass
class LinearOptions:
    eps: float = 1e-6  # LRA's value, added to the denominator
    chunk_size: int = 128  # causal mode only: positions per chunk of the prefix-sum recurrence

    # Old names still accepted for one release (registry.make_options translates them).
    RENAMED: ClassVar[dict[str, str]] = {"chunk": "chunk_size"}

    def __post_init__(self) -> None:
        OptionChecker("linear", self).number("eps", minimum=0.0).integer("chunk_size", minimum=1)


@register_attention("linear", LinearOptions, summary="linear attention with phi = elu + 1 (Katharopoulos)",
                    test_options={"chunk_size": 8},
                    causal=True, has_attention_weights=False)
class LinearAttention(AttentionCore):
    def __init__(self, options: LinearOptions, ctx: AttentionContext) -> None:
        super().__init__(ctx)
        self.options = options

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
        dtype, no_autocast = full_precision(q)
        with no_autocast:
            q_feat = F.elu(q.to(dtype)) + 1
            k_feat = zero_padded(F.elu(k.to(dtype)) + 1, key_mask)
            values = zero_padded(v.to(dtype), key_mask)
            out = kernel_attention(q_feat, k_feat, values, self.ctx.causal, self.options.eps,
                                   self.options.chunk_size)
        return out.to(v.dtype)
