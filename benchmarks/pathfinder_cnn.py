"""Are generated Pathfinder labels learnable? Train a small CNN on generated images and report test accuracy.

    python benchmarks/pathfinder_cnn.py --n 20000 --data /tmp/pathfinder-cnn --out docs/pathfinder_cnn.json

A curriculum (docs/results.md: from scratch the hard set stays at chance, after easy it reaches 98%):

    python benchmarks/pathfinder_cnn.py --difficulty easy --data /tmp/pf-easy --epochs 12 --save easy.pt
    python benchmarks/pathfinder_cnn.py --difficulty hard --data /tmp/pf-hard --init easy.pt --epochs 12

The network is a small ResNet (8 residual blocks, about 0.7M parameters at width 16) trained with flips and
quarter turns, which keep the label. LRA issue #38: a ResNet learns Pathfinder 32/64/256 but stays at
chance on one copy of pathfinder128, so check the data with a CNN before blaming a sequence model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from lra.data import pathfinder


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out
                     else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def small_resnet(width: int = 16) -> nn.Module:
    """A ResNet of 8 blocks (16-128 channels, 32x32 down to 4x4): its receptive field covers the image, which
    tracing a 14-paddle path needs; the 6-layer plain CNN of the first check (23-pixel field) did not."""
    w = width
    return nn.Sequential(nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                         ResidualBlock(w, w, 1), ResidualBlock(w, w, 1),
                         ResidualBlock(w, 2 * w, 2), ResidualBlock(2 * w, 2 * w, 1),
                         ResidualBlock(2 * w, 4 * w, 2), ResidualBlock(4 * w, 4 * w, 1),
                         ResidualBlock(4 * w, 8 * w, 2), ResidualBlock(8 * w, 8 * w, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, 2))


def augment(x: torch.Tensor) -> torch.Tensor:
    """A random flip and quarter turn per batch: both keep which ends a path connects, so the label."""
    if torch.rand(()) < 0.5:
        x = x.flip(-1)
    return torch.rot90(x, int(torch.randint(0, 4, ())), dims=(-2, -1))


def as_images(tokens: torch.Tensor, resolution: int) -> torch.Tensor:
    return (tokens.float() / 255.0).view(-1, 1, resolution, resolution)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--data", type=Path, default=Path("/tmp/pathfinder-cnn"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--save", type=Path, help="write the trained weights here")
    parser.add_argument("--init", type=Path, help="start from these weights (a curriculum: easy, then hard)")
    args = parser.parse_args()

    torch.manual_seed(0)
    root = args.data / pathfinder.folder_for(args.resolution, args.difficulty)
    gen_seconds = None
    if not (root / "metadata").is_dir():
        started = time.perf_counter()
        pathfinder.generate(args.data, args.resolution, args.difficulty, n=args.n, seed=0)
        gen_seconds = time.perf_counter() - started
    length = args.resolution ** 2
    splits = {s: pathfinder.load_split(args.data, s, length, args.resolution, args.difficulty, pixel_offset=0)
              for s in ("train", "val", "test")}
    data = {s: (as_images(torch.from_numpy(x.astype("int64")), args.resolution), torch.from_numpy(y))
            for s, (x, y) in splits.items()}
    model = small_resnet(args.width)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = args.epochs * (len(data["train"][1]) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)

    def accuracy(split: str) -> float:
        model.eval()
        x, y = data[split]
        with torch.no_grad():
            correct = sum(int((model(x[i:i + 512]).argmax(1) == y[i:i + 512]).sum()) for i in range(0, len(y), 512))
        model.train()
        return correct / len(y)

    started, history = time.perf_counter(), []
    x, y = data["train"]
    for epoch in range(args.epochs):
        order = torch.randperm(len(y))
        losses, hits = [], 0
        for i in range(0, len(y) - args.batch_size + 1, args.batch_size):
            idx = order[i:i + args.batch_size]
            logits = model(augment(x[idx]))
            loss = nn.functional.cross_entropy(logits, y[idx])
            losses.append(loss.item())
            hits += int((logits.argmax(1) == y[idx]).sum())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        # training loss and accuracy tell "cannot fit" apart from "fits but does not generalise"
        history.append({"epoch": epoch + 1, "train_loss": round(sum(losses) / len(losses), 4),
                        "train_acc": round(hits / (len(losses) * args.batch_size), 4), "val_acc": accuracy("val"),
                        "seconds": round(time.perf_counter() - started, 1)})
        print(history[-1], flush=True)
    result = {"n_images": args.n, "resolution": args.resolution, "difficulty": args.difficulty,
              "split_sizes": {s: len(v[1]) for s, v in data.items()}, "test_acc": accuracy("test"),
              "test_majority": float(max(data["test"][1].float().mean(), 1 - data["test"][1].float().mean())),
              "train_seconds": round(time.perf_counter() - started, 1),
              "generation_seconds": None if gen_seconds is None else round(gen_seconds, 1),
              "images_per_second": None if gen_seconds is None else round(args.n / gen_seconds, 1),
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              "model": f"small_resnet(width={args.width})", "init": None if args.init is None else str(args.init),
              "parameters": sum(p.numel() for p in model.parameters()),
              "epochs": args.epochs, "history": history}
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2))
    if args.save:
        torch.save(model.state_dict(), args.save)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
