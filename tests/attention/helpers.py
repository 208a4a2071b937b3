"""Inputs shared by the mechanism tests: random q, k, v and padded key masks."""

from __future__ import annotations

import torch


def random_qkv(length: int, batch: int = 2, heads: int = 2, d: int = 8, seed: int = 0,
               scale: float = 1.0) -> list[torch.Tensor]:
    """q, k, v of shape (batch, heads, length, d), float64 N(0, scale^2), drawn in that order from `seed`."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, length, d, generator=g, dtype=torch.float64) * scale for _ in range(3)]


def padded_mask(batch: int, length: int, lengths: list[int]) -> torch.Tensor:
    """(batch, length) key mask: True on the first lengths[b] tokens of row b (trailing padding)."""
    assert len(lengths) == batch
    return torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
