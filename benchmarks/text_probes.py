"""Two checks behind docs/results.md's reasons for text at chance: is there signal, and can the model fit?

    python benchmarks/text_probes.py bytes                      # logistic regression on byte counts
    python benchmarks/text_probes.py fit --model s4d            # the small model fits one fixed batch

`bytes`: a linear classifier on each review's normalised byte histogram (first 1,000 bytes, as `small` reads),
trained with L-BFGS on the training split and scored on the test split. `fit`: the `small` text model trained
on one fixed batch of 32 reviews; a falling loss means gradients reach the readout.
Both read the prepared data in data/text (`lra data prepare text`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from lra.data.text import load_split
from lra.presets import resolve_config
from lra.trainer import build_for

LENGTH = 1000


def byte_histograms(tokens: np.ndarray) -> torch.Tensor:
    counts = np.stack([np.bincount(row, minlength=257)[:257] for row in tokens.astype(np.int64)])
    return torch.tensor(counts / counts.sum(axis=1, keepdims=True), dtype=torch.float32)


def byte_count_accuracy(data_dir: Path) -> float:
    train_x, train_y = load_split(data_dir, "train", LENGTH)
    test_x, test_y = load_split(data_dir, "test", LENGTH)
    features, test_features = byte_histograms(train_x), byte_histograms(test_x)
    mean, std = features.mean(0), features.std(0) + 1e-6
    features, test_features = (features - mean) / std, (test_features - mean) / std
    labels = torch.tensor(train_y, dtype=torch.float32)
    weight = torch.zeros(features.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(features @ weight + bias, labels) + 1e-3 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        predictions = (test_features @ weight + bias > 0).long().numpy()
    return float((predictions == test_y).mean())


def fit_one_batch(data_dir: Path, model: str, pooling: str, steps: int, lr: float) -> list[float]:
    torch.manual_seed(0)
    config = resolve_config("text", model, "small", [f"model.pooling={pooling}"])
    tokens, labels = load_split(data_dir, "train", LENGTH)
    pick = torch.randperm(len(labels))[:32].numpy()
    batch, targets = torch.tensor(tokens[pick]).long(), torch.tensor(labels[pick]).long()
    network = build_for(config)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(network(batch), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("bytes", "fit"))
    parser.add_argument("--data-dir", type=Path, default=Path("data/text"))
    parser.add_argument("--model", default="s4d")
    parser.add_argument("--pooling", default="cls")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    if args.probe == "bytes":
        print(f"byte-count logistic regression, test accuracy: {byte_count_accuracy(args.data_dir):.4f}")
    else:
        losses = fit_one_batch(args.data_dir, args.model, args.pooling, args.steps, args.lr)
        shown = [step for step in range(len(losses)) if step % 10 == 0 or step == len(losses) - 1]
        print("step:loss " + " ".join(f"{step}:{losses[step]:.4f}" for step in shown))


if __name__ == "__main__":
    main()
