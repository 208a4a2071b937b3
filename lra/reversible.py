"""Reversible residual blocks (RevNet coupling, as in Reformer): activations are not stored.

With the input split as (x1, x2) = (x, x): y1 = x1 + F(x2), y2 = x2 + G(y1), where F is the attention
sub-layer and G the feed-forward one. The backward pass rebuilds each block's inputs from its outputs
(x2 = y2 - G(y1), x1 = y1 - F(x2)) and recomputes F and G with the same dropout randomness.
`reversible_ref` runs the same coupling with ordinary autograd: the test oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

Sublayer = Callable[[Tensor], Tensor]


def _rng_state(x: Tensor) -> tuple:
    cuda = torch.cuda.get_rng_state(x.device) if x.is_cuda else None
    return torch.get_rng_state(), cuda


class _Replay:
    """Run a function under a recorded RNG state, leaving the global RNG untouched afterwards."""

    def __init__(self, state: tuple, x: Tensor) -> None:
        self.state, self.x = state, x

    def __enter__(self) -> None:
        devices = [self.x.device] if self.x.is_cuda else []
        self.fork = torch.random.fork_rng(devices=devices)
        self.fork.__enter__()
        torch.set_rng_state(self.state[0])
        if self.state[1] is not None:
            torch.cuda.set_rng_state(self.state[1], self.x.device)

    def __exit__(self, *exc) -> None:
        self.fork.__exit__(*exc)


class _ReversibleFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, pairs: Sequence[tuple[Sublayer, Sublayer]], *params: Tensor) -> Tensor:
        x1, x2 = x, x
        states = []
        with torch.no_grad():
            for f, g in pairs:
                f_state = _rng_state(x)
                x1 = x1 + f(x2)
                g_state = _rng_state(x)
                x2 = x2 + g(x1)
                states.append((f_state, g_state))
        ctx.pairs, ctx.states = pairs, states
        ctx.save_for_backward(x1.detach(), x2.detach())
        return torch.stack([x1, x2])

    @staticmethod
    def backward(ctx, grad: Tensor):
        y1, y2 = ctx.saved_tensors
        dy1, dy2 = grad[0], grad[1]
        for (f, g), (f_state, g_state) in zip(reversed(ctx.pairs), reversed(ctx.states)):
            with torch.enable_grad():
                y1_in = y1.detach().requires_grad_(True)
                with _Replay(g_state, y1):
                    g_out = g(y1_in)
                torch.autograd.backward(g_out, dy2)
            x2 = y2 - g_out.detach()
            dx1 = dy1 + y1_in.grad
            with torch.enable_grad():
                x2_in = x2.detach().requires_grad_(True)
                with _Replay(f_state, x2):
                    f_out = f(x2_in)
                torch.autograd.backward(f_out, dx1)
            x1 = y1 - f_out.detach()
            dx2 = dy2 + x2_in.grad
            y1, y2, dy1, dy2 = x1, x2, dx1, dx2
        return (dy1 + dy2, None, *[None] * len(ctx.needs_input_grad[2:]))


def reversible(x: Tensor, pairs: Sequence[tuple[Sublayer, Sublayer]], params: Sequence[Tensor]) -> Tensor:
    """Apply the coupled blocks to x; returns the mean of the two streams, (y1 + y2) / 2."""
    both = _ReversibleFunction.apply(x, pairs, *params)
    return (both[0] + both[1]) / 2


def reversible_ref(x: Tensor, pairs: Sequence[tuple[Sublayer, Sublayer]]) -> Tensor:
    x1, x2 = x, x
    for f, g in pairs:
        x1 = x1 + f(x2)
        x2 = x2 + g(x1)
    return (x1 + x2) / 2
