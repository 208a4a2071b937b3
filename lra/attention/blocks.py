"""Shared pieces of the block-sparse mechanisms: padding to a block multiple, neighbouring key blocks,
and merging attention computed over separate key sets into one softmax."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from lra.attention.base import masked_fill_value


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


def partial_attention(logits: Tensor, keep: Tensor, v: Tensor, pattern: str, dropout: float = 0.0,
                      training: bool = False) -> tuple[Tensor, Tensor]:
    """Softmax attention restricted to `keep`, returning (output, log-sum-exp) for merge_partial."""
    logits = logits.masked_fill(~keep, float("-inf"))
    lse = torch.logsumexp(logits, dim=-1)
    weights = torch.exp(logits - lse.masked_fill(torch.isinf(lse), 0.0).unsqueeze(-1))
    if dropout > 0 and training:
        weights = F.dropout(weights, dropout)
    return torch.einsum(pattern, weights, v), lse
