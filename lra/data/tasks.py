"""Task registry: name -> how to load its splits, its vocabulary and classes, and its routes to data.

A task's routes are `prepare` (`lra data prepare`: an official archive or folder -> its data directory)
and `generate` (`lra data generate`: data made from a seed); None where a task has no such route.

Every split is held in memory as integer tensors: tokens (N, L) or, for two-tower tasks, (N, 2, L),
and labels (N,). Pad id is 0 in every task.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lra.config import DataConfig
from lra.data import listops
from lra.errors import LraError

if TYPE_CHECKING:
    import argparse

SPLITS = ("train", "val", "test")
LENGTH_FACTOR = 4  # data.max_length may reach this many times a task's own length, unless the task says


@dataclass
class Split:
    tokens: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, seed: int = 0) -> Split:
        """At most n examples, chosen at random with a fixed seed, in their original order."""
        if n <= 0 or n >= len(self):
            return self
        keep = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return Split(self.tokens[keep], self.labels[keep])

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
    # (source, data_dir) -> data_dir: an official archive or unpacked folder made into the task's data
    # directory (the checks common to every task are prepare_task's).
    prepare: Callable[[Path, Path], Path] | None = None
    # The options of `lra data generate` -> what the command prints; the options shared by every task are
    # out, seed and quiet, the others are the task's own argument group.
    generate: Callable[[argparse.Namespace], str] | None = None
    pixel: bool = False  # tokens are pixel values; data.pixel_offset shifts them (and the vocabulary)
    # The largest data.max_length worth loading: beyond it every added position is padding in every example
    # (and the cache grows by examples x 2 bytes per position), so a larger value is refused.
    length_limit: int = 0  # 0: LENGTH_FACTOR x max_length
    limit_reason: str = ""

    def longest(self) -> int:
        return self.length_limit or LENGTH_FACTOR * self.max_length

    def vocab_for(self, config: DataConfig) -> int:
        return self.vocab_size + (config.pixel_offset if self.pixel else 0)


def _as_split(tokens: np.ndarray, labels: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(tokens)).to(torch.int16 if tokens.dtype != np.uint8
                                                                   else torch.uint8),
                 torch.from_numpy(labels.astype(np.int64)))


def _load_listops(data_dir: Path, split: str, config: DataConfig) -> Split:
    return _as_split(*listops.load_split(data_dir, split, config.max_length))


def _load_text(data_dir: Path, split: str, config: DataConfig) -> Split:
    from lra.data import text

    return _as_split(*text.load_split(data_dir, split, config.max_length))


def _load_retrieval(data_dir: Path, split: str, config: DataConfig) -> Split:
    from lra.data import retrieval

    return _as_split(*retrieval.load_split(data_dir, split, config.max_length))


def _load_image(data_dir: Path, split: str, config: DataConfig) -> Split:
    from lra.data import image

    return _as_split(*image.load_split(data_dir, split, config.max_length, pixel_offset=config.pixel_offset))


def _pathfinder_loader(resolution: int) -> Callable[[Path, str, DataConfig], Split]:
    def load(data_dir: Path, split: str, config: DataConfig) -> Split:
        from lra.data import pathfinder

        return _as_split(*pathfinder.load_split(data_dir, split, config.max_length, resolution=resolution,
                                                difficulty=config.difficulty, pixel_offset=config.pixel_offset))

    return load


def _prepare_with(module: str, **fixed: int) -> Callable[[Path, Path], Path]:
    """lra.data.<module>.prepare, imported when first called (pathfinder's brings PIL and multiprocessing)."""
    def prepare(source: Path, data_dir: Path) -> Path:
        return importlib.import_module(f"lra.data.{module}").prepare(source, data_dir, **fixed)

    return prepare


def _generate_listops(options: argparse.Namespace) -> str:
    paths = listops.write_listops(
        options.out, n_train=options.train, n_val=options.val, n_test=options.test, seed=options.seed,
        min_length=options.min_length, max_length=options.max_length, max_depth=options.max_depth,
        max_args=options.max_args, progress=not options.quiet,
    )
    return "\n".join(f"{split:5s} {path}" for split, path in paths.items())


def _generate_pathfinder(options: argparse.Namespace) -> str:
    from lra.data import pathfinder

    started = time.perf_counter()
    root = pathfinder.generate(options.out, options.resolution, options.difficulty, n=options.n, seed=options.seed,
                               workers=None if options.workers == 0 else options.workers,
                               batch_size=options.batch_size, progress=not options.quiet)
    seconds = max(time.perf_counter() - started, 1e-9)
    return f"{options.n} images in {root} ({seconds:.0f} s, {options.n / seconds:.1f} images/s)"


def _pathfinder_spec(name: str, resolution: int, summary: str,
                     generate: Callable[[argparse.Namespace], str] | None = None) -> TaskSpec:
    # `lra data generate pathfinder --resolution R` makes every resolution: one task name holds the route.
    return TaskSpec(
        name=name, summary=summary, num_classes=2, vocab_size=256, max_length=resolution * resolution,
        two_tower=False, load=_pathfinder_loader(resolution), pixel=True,
        prepare=_prepare_with("pathfinder", resolution=resolution), generate=generate,
        how_to_get=(f"generate it with `lra data generate pathfinder --resolution {resolution} --out {{dir}}` "
                    f"or prepare the LRA release with `lra data prepare {name} --source PATH --data-dir {{dir}}`"),
    )


TASKS: dict[str, TaskSpec] = {
    "listops": TaskSpec(
        name="listops",
        summary="ListOps: nested MIN/MAX/MED/SM expressions, 10 classes, up to 2K tokens",
        num_classes=listops.NUM_CLASSES,
        vocab_size=listops.VOCAB_SIZE,
        max_length=2000,
        two_tower=False,
        load=_load_listops,
        prepare=listops.prepare,
        generate=_generate_listops,
        how_to_get="generate it with `lra data generate listops --out {dir}` (no download needed)",
        length_limit=16_000, limit_reason="8 times the paper's 2,000 tokens",
    ),
    "text": TaskSpec(
        name="text", summary="IMDb reviews as UTF-8 bytes, 2 classes, 4K tokens (val = test, as LRA)",
        num_classes=2, vocab_size=257, max_length=4000, two_tower=False, load=_load_text,
        prepare=_prepare_with("text"),
        how_to_get="download it with `lra data download text --data-dir {dir}` or prepare aclImdb_v1.tar.gz "
                   "with `lra data prepare text --source PATH --data-dir {dir}`",
    ),
    "retrieval": TaskSpec(
        name="retrieval", summary="AAN citation pairs as bytes, two towers of 4K tokens, 2 classes",
        num_classes=2, vocab_size=257, max_length=4000, two_tower=True, load=_load_retrieval,
        prepare=_prepare_with("retrieval"),
        length_limit=10_000, limit_reason="each document keeps its first 10,000 bytes",
        how_to_get="download the LRA release with `lra data download retrieval --data-dir {dir}` or prepare it "
                   "with `lra data prepare retrieval --source PATH --data-dir {dir}`",
    ),
    "image": TaskSpec(
        name="image", summary="CIFAR-10 as 1,024 grayscale pixel tokens, 10 classes",
        num_classes=10, vocab_size=256, max_length=1024, two_tower=False, load=_load_image, pixel=True,
        prepare=_prepare_with("image"),
        how_to_get="download it with `lra data download image --data-dir {dir}` or prepare "
                   "cifar-10-python.tar.gz with `lra data prepare image --source PATH --data-dir {dir}`",
    ),
    "pathfinder": _pathfinder_spec("pathfinder", 32, "Pathfinder 32x32: are the two dots connected? 1,024 pixels",
                                   generate=_generate_pathfinder),
    "pathx": _pathfinder_spec("pathx", 128, "Path-X: Pathfinder at 128x128, 16,384 pixels"),
    "pathfinder64": _pathfinder_spec("pathfinder64", 64, "Pathfinder 64x64, 4,096 pixels"),
    "pathfinder256": _pathfinder_spec("pathfinder256", 256, "Pathfinder 256x256, 65,536 pixels"),
}


def task_names() -> list[str]:
    return sorted(TASKS)


def tasks_with(route: str) -> list[str]:
    """The tasks that have a `prepare` or a `generate` route, sorted."""
    if route not in ("prepare", "generate"):
        raise ValueError(f"route must be 'prepare' or 'generate', got {route!r}")
    return [name for name in task_names() if getattr(TASKS[name], route) is not None]


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise LraError(f"unknown task {name!r}; registered: {', '.join(task_names())}") from None


def resolve_data_dir(task: str, config: DataConfig) -> Path:
    if config.data_dir:
        return Path(config.data_dir)
    return Path(os.environ.get("LRA_DATA_DIR", "data")) / task


def check_length(task: str, max_length: int) -> None:
    """Refuse a data.max_length far beyond anything in the task's data (only padding, a huge cache)."""
    spec = get_task(task)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise LraError(f"data.max_length={max_length!r}: expected a positive whole number of tokens")
    if max_length > spec.longest():
        why = spec.limit_reason or f"{LENGTH_FACTOR} times its {spec.max_length:,} tokens in the paper"
        raise LraError(f"data.max_length={max_length}: {task} allows at most {spec.longest():,} tokens ({why}); "
                       f"longer inputs would only add padding to every example (and to its cache on disk)")


def load_split(task: str, split: str, config: DataConfig) -> Split:
    spec = get_task(task)
    check_length(task, config.max_length)
    data_dir = resolve_data_dir(task, config)
    if not data_dir.is_dir():
        how = spec.how_to_get.format(dir=data_dir)
        if config.generate:  # a preset with its own generated data: give the exact command
            flags = {"n_train": "--train", "n_val": "--val", "n_test": "--test"}
            how = how.split(" (")[0].rstrip("`") + "".join(
                f" {flags.get(k, '--' + k.replace('_', '-'))} {v}" for k, v in config.generate.items()
            ) + "`"
        raise LraError(f"data directory {data_dir} for task {task!r} does not exist; {how}")
    loaded = spec.load(data_dir, split, config).subset(config.max_examples)
    if split != "train":
        loaded = loaded.subset(config.max_eval_examples)
    if len(loaded) == 0:
        raise LraError(f"the {split} split of {task!r} in {data_dir} is empty")
    if int(loaded.labels.min()) < 0 or int(loaded.labels.max()) >= spec.num_classes:
        raise LraError(
            f"{task} {split} split in {data_dir}: labels must lie in 0..{spec.num_classes - 1}, "
            f"found {int(loaded.labels.min())}..{int(loaded.labels.max())}"
        )
    return loaded


def prepare_task(task: str, source: Path, data_dir: Path) -> Path:
    """Turn a downloaded archive or an unpacked official folder into the task's data directory.

    Only the task's own entries are written there (see lra/data/archive.py); nothing else is removed.
    """
    spec = get_task(task)
    if spec.prepare is None:
        raise LraError(f"`lra data prepare` has no route for task {task!r}; it prepares "
                       f"{', '.join(tasks_with('prepare'))}")
    source, data_dir = Path(source), Path(os.path.abspath(data_dir))
    if not source.exists():
        raise LraError(f"--source {source} does not exist")
    if data_dir.exists() and not data_dir.is_dir():
        raise LraError(f"--data-dir {data_dir} is a file; expected a directory")
    return spec.prepare(source, data_dir)


def generate_task(task: str, options: argparse.Namespace) -> str:
    """Run `lra data generate TASK` with its parsed options; returns what the command prints."""
    spec = TASKS.get(task)
    if spec is None or spec.generate is None:
        raise LraError(f"`lra data generate` makes {' or '.join(tasks_with('generate'))}; got {task!r}")
    return spec.generate(options)


def task_info(task: str, config: DataConfig) -> dict:
    """What is present for a task: split sizes, label counts, real-token length statistics."""
    info: dict = {"task": task, "data_dir": str(resolve_data_dir(task, config)), "splits": {}}
    for split in SPLITS:
        try:
            data = load_split(task, split, config)
        except LraError as error:
            info["splits"][split] = {"error": str(error)}
            continue
        lengths = (data.tokens != 0).reshape(len(data), -1).sum(dim=1).float()
        info["splits"][split] = {
            "examples": len(data), "label_counts": torch.bincount(data.labels).tolist(),
            "tokens_mean": round(float(lengths.mean()), 1), "tokens_min": int(lengths.min()),
            "tokens_max": int(lengths.max()), "padded_to": data.tokens.shape[-1],
        }
    return info
