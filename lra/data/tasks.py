"""Task registry: name -> how to load its splits, its vocabulary and classes.

Every split is held in memory as integer tensors: tokens (N, L) or, for two-tower tasks, (N, 2, L),
and labels (N,). Pad id is 0 in every task.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lra.config import DataConfig
from lra.data import listops
from lra.data.cache import cached_arrays
from lra.errors import LraError

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    tokens: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def majority_accuracy(self) -> float:
        counts = torch.bincount(self.labels)
        return float(counts.max()) / max(len(self.labels), 1)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    summary: str
    num_classes: int
    vocab_size: int
    max_length: int
    two_tower: bool
    load: Callable[[Path, str, DataConfig], Split]
    how_to_get: str


def _load_listops(data_dir: Path, split: str, config: DataConfig) -> Split:
    path = data_dir / listops.SPLIT_FILES[split]
    arrays = cached_arrays(
        data_dir / ".cache", f"listops-{split}", {"max_length": config.max_length, "format": 1}, [path],
        lambda: dict(zip(("tokens", "labels"), listops.read_tsv(path, config.max_length))),
    )
    return Split(torch.from_numpy(arrays["tokens"]), torch.from_numpy(arrays["labels"].astype(np.int64)))


TASKS: dict[str, TaskSpec] = {
    "listops": TaskSpec(
        name="listops",
        summary="ListOps: nested MIN/MAX/MED/SM expressions, 10 classes, up to 2K tokens",
        num_classes=listops.NUM_CLASSES,
        vocab_size=listops.VOCAB_SIZE,
        max_length=2000,
        two_tower=False,
        load=_load_listops,
        how_to_get="generate it with `lra data generate listops --out {dir}` (no download needed)",
    ),
}


def task_names() -> list[str]:
    return sorted(TASKS)


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise LraError(f"unknown task {name!r}; registered: {', '.join(task_names())}") from None


def resolve_data_dir(task: str, config: DataConfig) -> Path:
    if config.data_dir:
        return Path(config.data_dir)
    return Path(os.environ.get("LRA_DATA_DIR", "data")) / task


def load_split(task: str, split: str, config: DataConfig) -> Split:
    spec = get_task(task)
    data_dir = resolve_data_dir(task, config)
    if not data_dir.is_dir():
        how = spec.how_to_get.format(dir=data_dir)
        if config.generate:  # a preset with its own generated data: give the exact command
            flags = {"n_train": "--train", "n_val": "--val", "n_test": "--test"}
            how = how.split(" (")[0].rstrip("`") + "".join(
                f" {flags.get(k, '--' + k.replace('_', '-'))} {v}" for k, v in config.generate.items()
            ) + "`"
        raise LraError(f"data directory {data_dir} for task {task!r} does not exist; {how}")
    loaded = spec.load(data_dir, split, config)
    if len(loaded) == 0:
        raise LraError(f"the {split} split of {task!r} in {data_dir} is empty")
    if int(loaded.labels.min()) < 0 or int(loaded.labels.max()) >= spec.num_classes:
        raise LraError(
            f"{task} {split} split in {data_dir}: labels must lie in 0..{spec.num_classes - 1}, "
            f"found {int(loaded.labels.min())}..{int(loaded.labels.max())}"
        )
    return loaded
