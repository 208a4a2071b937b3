"""Required attention span (LRA paper section 2.3): the mean distance between a query and the keys it
attends to, weighted by the attention weights, per layer and head, averaged over validation samples.

span(layer, head, x) = mean over real queries q of sum_k A[q, k] * |q - k|, with positions counted in the
model's sequence (CLS at 0). Padded queries and keys are excluded. It needs explicit attention weights,
so it is defined for softmax attention: `transformer`, `reference`, and the pattern-exact mechanisms
(their softmax under their own dense mask).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lra.attention import MultiHeadAttention, get_spec, mechanism_names
from lra.data.tasks import load_split
from lra.errors import LraError
from lra.trainer import build_for, load_checkpoint, load_weights, read_run_config, resolve_device, trim_padding


@torch.no_grad()
def attention_spans(run_dir: str | Path, samples: int = 1000, batch_size: int = 16, seed: int = 0) -> dict:
    if samples < 1 or batch_size < 1:
        raise LraError(f"span: --samples={samples} and batch size {batch_size} must be at least 1")
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    name = config.model_name
    device = resolve_device(config.train.device)
    model = build_for(config).to(device).eval()
    checkpoint = run_dir / "best.pt"
    load_weights(model, load_checkpoint(checkpoint), checkpoint, config)
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    if not layers or not get_spec(name).exposes_weights:
        able = ", ".join(n for n in mechanism_names() if get_spec(n).exposes_weights)
        raise LraError(f"the required span needs explicit softmax attention weights; model {name!r} has none "
                       f"(use one of: {able})")
    split = load_split(config.task, "val", config.data)
    chosen = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:samples]
    captured: list[tuple] = []
    # MultiHeadAttention calls its core as core(q, k, v, key_mask).
    hooks = [layer.core.register_forward_pre_hook(lambda mod, args: captured.append((mod, args[0], args[1], args[3])))
             for layer in layers]
    totals: torch.Tensor | None = None
    try:
        for start in range(0, len(chosen), batch_size):
            tokens = trim_padding(split.tokens[chosen[start : start + batch_size]]).to(device, torch.long)
            captured.clear()
            model(tokens)
            per_layer = []
            for core, q, k, key_mask in captured:
                weights = core.softmax_weights(q, k, key_mask)
                pos = torch.arange(q.shape[-2], device=q.device, dtype=torch.float64)
                distance = (pos[:, None] - pos[None, :]).abs()
                per_query = (weights * distance).sum(-1)  # (B, H, L)
                real = (torch.ones_like(per_query[:, 0]) if key_mask is None else key_mask.double())[:, None]
                per_layer.append(((per_query * real).sum(-1) / real.sum(-1)).sum(0))  # (H,) summed over batch
            batch_total = torch.stack(per_layer)
            totals = batch_total if totals is None else totals + batch_total
    finally:
        for hook in hooks:
            hook.remove()
    spans = (totals / len(chosen)).cpu()
    return {"run": str(run_dir), "model": name, "task": config.task, "samples": len(chosen),
            "per_layer_head": spans.tolist(), "per_layer": spans.mean(dim=1).tolist(), "mean": float(spans.mean())}
