"""Adaptive computation time over one shared block (Graves 2016), as the Universal Transformer uses it.

One block is applied up to `max_steps` times. Before each step a sinusoidal signal of the step index is added
to the state, and a halting unit gives each token a probability p = sigmoid(w . x + b). A running token adds
p to its halting sum; at the step where the sum would pass `threshold` it halts with the remainder
R = 1 - (sum so far), and at the last allowed step every token still running halts with R, so each token's
update weights sum to exactly 1. Each step mixes the block's output in with the token's weight:

    state = w * block(state + signal[step]) + (1 - w) * state,  w = p (running), R (halting), 0 (halted)

Halted tokens keep their state and are still attended to by running ones; padded tokens are halted from the
start. (tensor2tensor instead feeds the block's raw output to the next step and keeps the weighted sum apart;
feeding the mixed state makes a halted token's state final, so early exit changes nothing.) The ponder cost of
a token is N + R (N = the steps it was updated); its mean over real tokens is added to the loss with weight
tau (`model.ponder_weight`); only R carries a gradient, as in the paper.

Early exit: the loop stops once every real token has halted, since every later weight would be 0. The
threshold is an attribute, so inference can lower it to trade accuracy for layers (`set_threshold`).
`act_ref` is the test oracle: the same rule token by token in Python, always running max_steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from lra.config import halting_threshold
from lra.errors import LraError

# The Universal Transformer's act_halting_bias_init: p starts near sigmoid(1) = 0.73, so a new model halts
# after about two steps and learns from there how much deeper each token should go.
HALT_BIAS_INIT = 1.0


def _check_threshold(value: float) -> float:
    problem = halting_threshold(value)
    if problem is not None:
        raise LraError(f"halting threshold {value!r}: expected {problem}")
    return float(value)


class AdaptiveDepth(nn.Module):
    """block(x, mask) applied up to max_steps times per token, with ACT halting; (B, L, D) -> (B, L, D)."""

    def __init__(self, block: nn.Module, dim: int, max_steps: int, threshold: float = 0.99,
                 checkpoint_steps: bool = False) -> None:
        super().__init__()
        from lra.model import sinusoidal_table  # imported here, not above: lra.model imports this module

        if max_steps < 1:
            raise LraError(f"adaptive depth: max_steps={max_steps}; expected at least 1")
        self.block = block
        self.halt = nn.Linear(dim, 1)
        nn.init.xavier_uniform_(self.halt.weight)
        nn.init.constant_(self.halt.bias, HALT_BIAS_INIT)
        # Not saved: a function of (max_steps, dim), like the encoder's sinusoidal positions.
        self.register_buffer("step_signal", sinusoidal_table(max_steps, dim), persistent=False)
        self.max_steps = max_steps
        self.threshold = _check_threshold(threshold)
        self.checkpoint_steps = checkpoint_steps  # model.checkpoint_blocks: recompute each step in backward
        self.last_ponder_cost: Tensor | None = None
        self.last_layers_used = 0.0
        self.reset_statistics()

    def reset_statistics(self) -> None:
        """Forget the block applications counted so far (see `average_layers`)."""
        self.layers_sum = 0.0
        self.tokens_count = 0

    @property
    def average_layers(self) -> float:
        """Mean steps per real token over every forward since `reset_statistics` (0.0 before any)."""
        return self.layers_sum / self.tokens_count if self.tokens_count else 0.0

    def _apply_block(self, x: Tensor, mask: Tensor | None) -> Tensor:
        if self.checkpoint_steps and torch.is_grad_enabled():
            return checkpoint(self.block, x, mask, use_reentrant=False)
        return self.block(x, mask)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        real = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        # The halting sums are kept in float32 at least: under bf16 autocast a sum near 0.99 would be coarse.
        dtype = torch.promote_types(x.dtype, torch.float32)
        summed = torch.zeros(x.shape[:2], dtype=dtype, device=x.device)  # halting probability so far
        remainder = torch.zeros_like(summed)
        updates = torch.zeros_like(summed)
        running = real.clone()
        state = x
        for step in range(self.max_steps):
            # Early exit: every real token has halted, so every later weight would be 0. (On a GPU this reads
            # one flag back per step.)
            if not bool(running.any()):
                break
            inputs = state + self.step_signal[step]
            p = torch.sigmoid(self.halt(inputs).squeeze(-1).to(dtype))
            halting = running & ((summed + p > self.threshold) | (step == self.max_steps - 1))
            continuing = running & ~halting
            halting_remainder = torch.where(halting, 1.0 - summed, 0.0)  # grad flows to the earlier p's
            weight = torch.where(continuing, p, halting_remainder)
            summed = summed + torch.where(continuing, p, 0.0)
            remainder = remainder + halting_remainder
            updates = updates + running.to(dtype)
            weight = weight.unsqueeze(-1)
            state = weight * self._apply_block(inputs, mask) + (1.0 - weight) * state
            running = continuing
        tokens = int(real.sum())
        # Padded tokens never ran, so their N and R are 0: the sums are over real tokens.
        self.last_ponder_cost = (updates + remainder).sum() / max(tokens, 1)
        layers = float(updates.sum())
        self.last_layers_used = layers / max(tokens, 1)
        self.layers_sum += layers
        self.tokens_count += tokens
        return state


@dataclass
class ActTrace:
    """What `act_ref` computes: the output and, per token, every step's weight, N, R and N + R."""

    output: Tensor  # (B, L, D)
    weights: Tensor  # (max_steps, B, L): the update weight of each token at each step
    updates: Tensor  # (B, L): N
    remainders: Tensor  # (B, L): R
    ponder: Tensor  # (B, L): N + R


def act_ref(module: AdaptiveDepth, x: Tensor, mask: Tensor | None) -> ActTrace:
    """The oracle of AdaptiveDepth.forward: the halting rule token by token, all max_steps, no early exit."""
    batch, length = x.shape[:2]
    tokens = [(b, i) for b in range(batch) for i in range(length)]
    halted = {t: mask is not None and not bool(mask[t]) for t in tokens}
    summed = {t: x.new_zeros(()) for t in tokens}
    remainders = {t: x.new_zeros(()) for t in tokens}
    updates = dict.fromkeys(tokens, 0)
    state, weights = x, []
    for step in range(module.max_steps):
        inputs = state + module.step_signal[step]
        p = torch.sigmoid(module.halt(inputs).squeeze(-1))
        new = module.block(inputs, mask)
        weight = {t: x.new_zeros(()) for t in tokens}
        for t in tokens:
            if halted[t]:
                continue
            updates[t] += 1
            if step == module.max_steps - 1 or float((summed[t] + p[t]).detach()) > module.threshold:
                weight[t] = remainders[t] = 1.0 - summed[t]
                halted[t] = True
            else:
                weight[t] = p[t]
                summed[t] = summed[t] + p[t]
        w = torch.stack([weight[t] for t in tokens]).view(batch, length)
        weights.append(w)
        state = w[..., None] * new + (1.0 - w[..., None]) * state
    n = torch.tensor([updates[t] for t in tokens], dtype=x.dtype, device=x.device).view(batch, length)
    r = torch.stack([remainders[t] for t in tokens]).view(batch, length)
    return ActTrace(state, torch.stack(weights), n, r, n + r)


# ---------------------------------------------------------------- helpers for training and evaluation


def _act_modules(model: nn.Module) -> list[AdaptiveDepth]:
    return [m for m in model.modules() if isinstance(m, AdaptiveDepth)]


def ponder_cost(model: nn.Module) -> Tensor | float:
    """Sum of the ponder costs (mean N + R over real tokens) of the last forward pass (0.0 without ACT)."""
    costs = [m.last_ponder_cost for m in _act_modules(model) if m.last_ponder_cost is not None]
    return torch.stack(costs).sum() if costs else 0.0


def set_threshold(model: nn.Module, value: float) -> None:
    """Set the halting threshold of every ACT module (lower: fewer layers per token)."""
    modules = _act_modules(model)
    if not modules:
        raise LraError("this model has no adaptive depth (model.adaptive_depth=false): no threshold to set")
    value = _check_threshold(value)
    for module in modules:
        module.threshold = value


def reset_statistics(model: nn.Module) -> None:
    for module in _act_modules(model):
        module.reset_statistics()


def average_layers(model: nn.Module) -> float:
    """Mean block applications per real token since the last reset, over every ACT module."""
    modules = _act_modules(model)
    tokens = sum(m.tokens_count for m in modules)
    return sum(m.layers_sum for m in modules) / tokens if tokens else 0.0


def evaluate_thresholds(run_dir: str | Path, thresholds: list[float], split: str = "test",
                        checkpoint: str = "last") -> list[dict]:
    """Accuracy and mean layers per real token of a saved ACT run at each halting threshold, one row each."""
    from lra.data.tasks import load_split
    from lra.trainer import _use_trim, evaluate, load_run

    if not thresholds:
        raise LraError("--halt-threshold: give at least one threshold, e.g. 0.5,0.9,0.99")
    thresholds = [_check_threshold(t) for t in thresholds]
    if split not in ("train", "val", "test"):
        raise LraError(f"unknown split {split!r}; expected train, val or test")
    config, model, state, device = load_run(run_dir, checkpoint)
    if not config.model.adaptive_depth:
        raise LraError(f"--halt-threshold: {run_dir} was trained without model.adaptive_depth=true, so it has no "
                       "halting threshold to vary")
    data = load_split(config.task, split, config.data)
    batch = config.train.eval_batch_size or config.train.batch_size
    rows = []
    for threshold in thresholds:
        set_threshold(model, threshold)
        reset_statistics(model)
        result = evaluate(model, data, batch, device, _use_trim(config))
        rows.append({"threshold": threshold, "accuracy": result.accuracy, "loss": result.loss,
                     "average_layers": average_layers(model), "max_layers": config.model.num_layers,
                     "examples": result.examples, "split": split, "checkpoint": checkpoint,
                     "step": state.get("step")})
    return rows
