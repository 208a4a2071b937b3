"""Switch mixture-of-experts feed-forward (Fedus et al. 2021): each token goes to its top-1 expert.

The load-balancing loss is E * sum_i f_i * P_i, where f_i is the fraction of real tokens routed to expert
i and P_i the mean router probability for i; it equals 1 under perfectly uniform routing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SwitchFeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, experts: int, dropout: float, make_dense) -> None:
        super().__init__()
        self.router = nn.Linear(dim, experts, bias=False)
        nn.init.normal_(self.router.weight, std=0.02)
        self.experts = nn.ModuleList(
            nn.Sequential(make_dense(dim, hidden), nn.GELU(approximate="tanh"), nn.Dropout(dropout),
                          make_dense(hidden, dim), nn.Dropout(dropout))
            for _ in range(experts)
        )
        self.last_aux_loss: Tensor | None = None

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        flat = x.reshape(-1, x.shape[-1])
        probs = self.router(flat).float().softmax(dim=-1)
        gate, choice = probs.max(dim=-1)
        out = torch.zeros_like(flat)
        for i, expert in enumerate(self.experts):
            rows = (choice == i).nonzero(as_tuple=True)[0]
            if rows.numel():
                out.index_copy_(0, rows, expert(flat[rows]) * gate[rows, None].to(flat.dtype))
        real = torch.ones(flat.shape[0], device=x.device) if mask is None else mask.reshape(-1).float()
        n = real.sum().clamp(min=1.0)
        fraction = torch.zeros_like(probs[0]).index_add_(0, choice, real) / n
        mean_prob = (probs * real[:, None]).sum(dim=0) / n
        self.last_aux_loss = len(self.experts) * (fraction * mean_prob).sum()
        return out.reshape(x.shape)


def auxiliary_loss(model: nn.Module) -> Tensor | float:
    """Sum of the load-balancing losses of the last forward pass (0 when there is no MoE layer)."""
    losses = [m.last_aux_loss for m in model.modules() if isinstance(m, SwitchFeedForward)
              and m.last_aux_loss is not None]
    return torch.stack(losses).sum() if losses else 0.0
