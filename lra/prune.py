"""Pruning a trained run: magnitude (unstructured) or structured (attention heads, MLP channels), with
optional fine-tuning, through torch.nn.utils.prune (weights become weight_orig * mask while pruned).

- magnitude: the smallest |w| over every Linear weight of the blocks and the head, globally;
- heads: per attention layer, the heads whose value rows and output columns carry the least norm; a head
  with zero values and zero output columns contributes nothing;
- mlp: per block, the first MLP layer's output channels (rows) of least L2 norm; the second layer then
  reads zeros from them.
The zeros are kept in dense tensors, so dense kernels take the same time and memory (docs/techniques.md
measures it); what pruning buys here is a measured accuracy-against-sparsity curve.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from lra.attention import MultiHeadAttention
from lra.errors import LraError
from lra.safe_io import atomic_write_json

METHODS = ("magnitude", "heads", "mlp")


def _prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every Linear weight outside the embeddings (whose rows are tokens, not features)."""
    return [(m, "weight") for m in model.modules() if isinstance(m, nn.Linear)]


def sparsity(model: nn.Module) -> float:
    """Fraction of zeros among the prunable weights (with pruning masks applied)."""
    weights = [getattr(m, name) for m, name in _prunable(model)]
    total = sum(w.numel() for w in weights)
    return sum(int((w == 0).sum()) for w in weights) / max(total, 1)


def _prune_heads(model: nn.Module, amount: float) -> None:
    for layer in (m for m in model.modules() if isinstance(m, MultiHeadAttention)):
        heads, width = layer.num_heads, layer.v_proj.weight.shape[0] // layer.num_heads
        cut = math.floor(amount * heads + 1e-9)
        if cut == 0:
            continue
        v_rows = layer.v_proj.weight.detach().view(heads, width, -1)
        o_cols = layer.out_proj.weight.detach().view(-1, heads, width)
        importance = v_rows.flatten(1).norm(dim=1) * o_cols.transpose(0, 1).flatten(1).norm(dim=1)
        dropped = importance.argsort()[:cut]
        v_mask = torch.ones_like(layer.v_proj.weight).view(heads, width, -1)
        o_mask = torch.ones_like(layer.out_proj.weight).view(-1, heads, width)
        v_mask[dropped] = 0
        o_mask[:, dropped] = 0
        prune.custom_from_mask(layer.v_proj, "weight", v_mask.view_as(layer.v_proj.weight))
        prune.custom_from_mask(layer.out_proj, "weight", o_mask.view_as(layer.out_proj.weight))


def _prune_mlp(model: nn.Module, amount: float) -> None:
    firsts = [m.mlp[0] for m in model.modules() if isinstance(getattr(m, "mlp", None), nn.Sequential)]
    if not firsts:
        raise LraError("--method mlp: this model has no dense MLP blocks (a mixture-of-experts model?)")
    for dense in firsts:
        prune.ln_structured(dense, "weight", amount=amount, n=2, dim=0)


def prune_model(model: nn.Module, method: str, amount: float) -> None:
    """Attach pruning masks in place (`make_permanent` turns them into plain zeros)."""
    if method not in METHODS:
        raise LraError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if not 0.0 <= amount < 1.0:
        raise LraError(f"--amount {amount}: expected a fraction in [0, 1)")
    if amount == 0:
        return
    if method == "magnitude":
        prune.global_unstructured(_prunable(model), pruning_method=prune.L1Unstructured, amount=amount)
    elif method == "heads":
        _prune_heads(model, amount)
    else:
        _prune_mlp(model, amount)


def make_permanent(model: nn.Module) -> None:
    for module in model.modules():
        if prune.is_pruned(module):
            for name in [hook._tensor_name for hook in module._forward_pre_hooks.values()
                         if isinstance(hook, prune.BasePruningMethod)]:
                prune.remove(module, name)


def _fine_tune(model: nn.Module, config, split, steps: int, lr: float, device: torch.device, trim: bool) -> None:
    from lra.model import cross_entropy
    from lra.trainer import batch_indices, trim_padding

    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                  betas=(config.train.beta1, config.train.beta2), eps=config.train.eps,
                                  weight_decay=config.train.weight_decay)
    for step in range(steps):
        idx = batch_indices(step, len(split), config.train.batch_size, config.train.seed + 1)
        tokens = split.tokens[idx]
        tokens = (trim_padding(tokens) if trim else tokens).to(device, torch.long)
        loss = cross_entropy(model(tokens), split.labels[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()


def prune_run(run_dir: str | Path, method: str, amounts: list[float], finetune_steps: int = 0,
              finetune_lr: float = 1e-4, out: str | Path | None = None) -> list[dict]:
    """Prune a run's last parameters at each amount (each from the unpruned weights), optionally fine-tune,
    and test; one record per amount. With `out` and one amount, the pruned run is saved there as a run
    directory (config.json, last.pt with the zeros made permanent, results.json) that `lra eval` reads."""
    from lra.data.tasks import load_split
    from lra.trainer import (
        _use_trim,
        build_for,
        evaluate,
        load_checkpoint,
        load_weights,
        read_run_config,
        resolve_device,
        save_checkpoint,
    )

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    checkpoint = run_dir / "last.pt"
    if not checkpoint.is_file():
        raise LraError(f"{run_dir} has no last.pt to prune")
    if out is not None and len(amounts) != 1:
        raise LraError("--out saves one pruned run: give one --amounts value with it")
    state = load_checkpoint(checkpoint)
    device = resolve_device(config.train.device)
    trim = _use_trim(config)
    splits = {name: load_split(config.task, name, config.data) for name in ("train", "test")}
    batch = config.train.eval_batch_size or config.train.batch_size
    records = []
    for amount in amounts:
        model = build_for(config).to(device)
        load_weights(model, state, checkpoint, config)
        prune_model(model, method, amount)
        if finetune_steps:
            _fine_tune(model, config, splits["train"], finetune_steps, finetune_lr, device, trim)
        make_permanent(model)
        started = time.perf_counter()
        result = evaluate(model, splits["test"], batch, device, trim)
        records.append({"method": method, "amount": amount, "sparsity": round(sparsity(model), 4),
                        "finetune_steps": finetune_steps, "test_acc": result.accuracy,
                        "test_eval_s": round(time.perf_counter() - started, 3)})
        if out is not None:
            out = Path(out)
            if out.exists():
                raise LraError(f"--out {out} already exists; choose a new folder for the pruned run")
            out.mkdir(parents=True)
            (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
            save_checkpoint(out / "last.pt", {"config": config.to_dict(), "model": model.state_dict(),
                                              "step": state.get("step")})
            atomic_write_json(out / "results.json", {"task": config.task, "model": config.model_name,
                                                     "pruned_from": str(run_dir), **records[-1]})
    return records


def plot_curve(records: list[dict], path: Path) -> Path:
    """Test accuracy against the sparsity of the Linear weights, one line per method (the `plot` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LraError("plotting needs matplotlib: pip install -e .[plot]") from None
    from lra.curves import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in records):
        rows = sorted((r["sparsity"], 100 * r["test_acc"]) for r in records if r["method"] == method)
        ax.plot([s for s, _ in rows], [a for _, a in rows], marker="o", label=method)
    ax.set(xlabel="sparsity of the Linear weights", ylabel="test accuracy (%)", title="accuracy against sparsity")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path
