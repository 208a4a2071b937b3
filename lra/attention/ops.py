"""Kernels shared by several mechanisms, in one place: mechanism files import base, registry, options and
this module, never each other.

- masks and padding: `masked_fill_value`, `combine_masks`, `zero_padded`, `check_length`;
- block-sparse pieces: padding to a block multiple, neighbouring key blocks, attention per block through
  the fused SDPA kernel (`block_attention`, with `block_attention_ref` the slow reference beside it), and
  merging attention over separate key sets into one softmax;
- kernel (linear-time) attention: `kernel_attention` over non-negative features, computed in
  `full_precision`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.errors import LraError


def masked_fill_value(dtype: torch.dtype) -> float:
    """A large finite negative: masked logits vanish in softmax without turning a fully masked row into NaN."""
    return torch.finfo(dtype).min / 2


def combine_masks(
    length_q: int,
    length_k: int,
    key_mask: Tensor | None = None,
    causal: bool = False,
    pattern: Tensor | None = None,
    device: torch.device | None = None,
) -> Tensor | None:
    """AND of the key-padding mask (B, Lk), the causal mask and a dense pattern (B|1, H|1, Lq, Lk).

    Returns a keep-mask broadcastable to (B, H, Lq, Lk), or None when nothing is masked.
    """
    keep = None
    if key_mask is not None:
        keep = key_mask[:, None, None, :]
    if causal:
        tri = torch.ones(length_q, length_k, dtype=torch.bool, device=device).tril()
        keep = tri if keep is None else keep & tri
    if pattern is not None:
        keep = pattern if keep is None else keep & pattern
    return keep


def zero_padded(x: Tensor, key_mask: Tensor | None) -> Tensor:
    """x (B, H, L, *) with the rows of padded tokens set to exactly 0 (where, not a product: inf * 0 = nan)."""
    if key_mask is None:
        return x
    return torch.where(key_mask[:, None, :, None], x, x.new_zeros(()))


class SequenceTooLongError(LraError, ValueError):
    """A sequence longer than the max_len that a length-bound parameter (E, a logits table) was built for."""


def check_length(name: str, length: int, max_len: int) -> None:
    if length > max_len:
        raise SequenceTooLongError(
            f"{name} was built for max_len={max_len} (its parameters have max_len rows); got a sequence of "
            f"{length} tokens: raise the model's max_len or shorten the input")


def pad_to_blocks(x: Tensor, block: int, dim: int = 2) -> Tensor:
    """Right-pad dimension `dim` with zeros to a multiple of block."""
    extra = (-x.shape[dim]) % block
    if extra == 0:
        return x
    pad = [0, 0] * (x.dim() - dim - 1) + [0, extra]
    return F.pad(x, pad)


def padded_key_mask(key_mask: Tensor | None, batch: int, length: int, block: int, device) -> Tensor:
    """(B, L_padded) keep-mask: the user's key mask, False on the internal padding."""
    mask = torch.ones(batch, length, dtype=torch.bool, device=device) if key_mask is None else key_mask
    return pad_to_blocks(mask, block, dim=1)


def take_rows(t: Tensor, order: Tensor) -> Tensor:
    """t (B, H, L, d) with its rows reordered: out[:, :, i] = t[:, :, order[..., i]]; order (B, H, L)."""
    return t.gather(2, order[..., None].expand(-1, -1, -1, t.shape[-1]))


def inverse_order(order: Tensor) -> Tensor:
    """The permutation that undoes `order` along the last dimension (a scatter, cheaper than argsort)."""
    positions = torch.arange(order.shape[-1], device=order.device).expand_as(order)
    return torch.empty_like(order).scatter_(-1, order, positions)


def look_around(x: Tensor, backward: int, forward: int, block_dim: int, fill: float | bool = 0) -> Tensor:
    """Blocks along `block_dim`, each concatenated with its neighbours along the next dimension.

    x (..., n, w, ...) -> (..., n, (backward + 1 + forward) * w, ...); blocks beyond either end are `fill`.
    """
    n = x.shape[block_dim]
    pad = [0, 0] * (x.dim() - block_dim - 1) + [backward, forward]
    padded = F.pad(x, pad, value=fill)
    parts = [padded.narrow(block_dim, offset, n) for offset in range(backward + forward + 1)]
    return torch.cat(parts, dim=block_dim + 1)


def scaled_logits(q: Tensor, k: Tensor, pattern: str) -> Tensor:
    return torch.einsum(pattern, q * q.shape[-1] ** -0.5, k)  # scaling q is cheaper than the logits


def masked_softmax(logits: Tensor, keep: Tensor) -> Tensor:
    return logits.masked_fill(~keep, masked_fill_value(logits.dtype)).softmax(dim=-1)


def block_attention(q: Tensor, k: Tensor, v: Tensor, keep: Tensor | None, dropout: float = 0.0) -> Tensor:
    """Softmax attention of each query block over its own key set, through the fused SDPA kernel.

    q (B, H, N, W, d); k, v (B, H, N, K, d); keep broadcastable to (B, H, N, W, K): a bool mask, a float
    bias added to the logits, or None.
    SDPA takes 4-D tensors, so (B, H) is merged: the kernel then never stores the (W, K) weights of a
    block, which the einsum-softmax-einsum path (kept as `block_attention_ref`) does. A query with no
    kept key gets zeros (SDPA's rule), not NaN. `dropout` is applied to the weights, as F.dropout would.
    """
    b, h, n, w, d = q.shape
    mask = None
    if keep is not None:
        if keep.shape[0] == 1 and keep.shape[1] == 1:
            mask = keep[0, 0].unsqueeze(0)  # broadcasts over the merged (B, H)
        else:
            mask = keep.expand(b, h, *keep.shape[2:]).reshape(b * h, *keep.shape[2:])
    out = F.scaled_dot_product_attention(q.reshape(b * h, n, w, d), k.reshape(b * h, n, k.shape[3], d),
                                         v.reshape(b * h, n, v.shape[3], v.shape[4]), attn_mask=mask,
                                         dropout_p=dropout)
    return out.view(b, h, n, w, -1)


def block_attention_ref(q: Tensor, k: Tensor, v: Tensor, keep: Tensor | None) -> Tensor:
    """block_attention written out (no dropout): the slow reference the fast path is tested against."""
    logits = scaled_logits(q, k, "bhnqd,bhnkd->bhnqk")
    if keep is None or keep.is_floating_point():
        logits = logits if keep is None else logits + keep
        return torch.einsum("bhnqk,bhnkd->bhnqd", logits.softmax(dim=-1), v)
    weights = masked_softmax(logits, keep) * keep.any(dim=-1, keepdim=True)  # no kept key: zeros
    return torch.einsum("bhnqk,bhnkd->bhnqd", weights, v)


def merge_partial(parts: list[tuple[Tensor, Tensor]]) -> Tensor:
    """Combine (out_i, lse_i) computed over disjoint key sets into softmax over their union.

    out_i is the softmax-weighted average over set i and lse_i its log-sum-exp (-inf when empty).
    """
    lse = torch.stack([p[1] for p in parts])
    total = torch.logsumexp(lse, dim=0)
    weights = torch.exp(lse - total.masked_fill(torch.isinf(total), 0.0)).nan_to_num(0.0)
    return sum(w.unsqueeze(-1) * out for w, (out, _) in zip(weights, parts))


def full_precision(x: Tensor) -> tuple[torch.dtype, AbstractContextManager]:
    """The dtype kernel methods compute in (float32 at least) and a context that turns autocast off, so
    that exp/elu features and their sums are not rounded to 16 bits (mlpen and xformers do the same)."""
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    return dtype, torch.autocast(device_type=x.device.type, enabled=False)


def kernel_attention(q_feat: Tensor, k_feat: Tensor, v: Tensor, causal: bool = False, eps: float = 1e-6,
                     chunk_size: int = 128) -> Tensor:
    """sum_j (q_i . k_j) v_j / (sum_j q_i . k_j + eps) for non-negative features (B, H, L, m); v (B, H, L, d).

    Keys to leave out must already have zero features. A row with no key at all returns 0.
    """

    def divide(numerator: Tensor, normaliser: Tensor) -> Tensor:
        normaliser = normaliser + eps
        return numerator / normaliser.masked_fill(normaliser == 0, 1.0).unsqueeze(-1)

    if not causal:
        kv = torch.einsum("bhlm,bhld->bhmd", k_feat, v)
        normaliser = torch.einsum("bhlm,bhm->bhl", q_feat, k_feat.sum(dim=2))
        return divide(torch.einsum("bhlm,bhmd->bhld", q_feat, kv), normaliser)
    b, h, length, m = q_feat.shape
    state = q_feat.new_zeros(b, h, m, v.shape[-1])
    k_sum = q_feat.new_zeros(b, h, m)
    outputs = []
    for start in range(0, length, chunk_size):
        qc, kc, vc = (t[:, :, start : start + chunk_size] for t in (q_feat, k_feat, v))
        scores = torch.einsum("bhim,bhjm->bhij", qc, kc).tril()
        numerator = torch.einsum("bhim,bhmd->bhid", qc, state) + scores @ vc
        normaliser = torch.einsum("bhim,bhm->bhi", qc, k_sum) + scores.sum(-1)
        outputs.append(divide(numerator, normaliser))
        state = state + torch.einsum("bhjm,bhjd->bhmd", kc, vc)
        k_sum = k_sum + kc.sum(dim=2)
    return torch.cat(outputs, dim=2)


def masked_attention(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None, dropout: float = 0.0) -> Tensor:
    """softmax(q k^T / sqrt(d)) v over the real keys (key_mask (B, Lk), True = keep) through the fused SDPA
    kernel; q may have another length than k. A query with no real key gets zeros (SDPA's rule)."""
    mask = None if key_mask is None else key_mask[:, None, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
