"""The training loop: LRA's optimizer and schedules, periodic evaluation, atomic checkpoints, exact resume.

A run directory holds:
- config.json      the resolved RunConfig (everything needed to rerun or evaluate)
- metrics.jsonl    one line per evaluation
- last.pt          model, optimizer, step, RNG states: what `--resume` continues from
- best.pt          model weights at the best validation accuracy
- results.json     final numbers and the environment
- .lock            held (flock) by the trainer writing the run, so a second one is refused

The data order is a pure function of (seed, step), and RNG states are checkpointed, so a resumed run
follows exactly the path of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lra import distributed, pretrain, runtime
from lra.act import ponder_cost
from lra.config import RunConfig, TrainConfig, validate, with_current_option_names
from lra.cost import EnergyMeter
from lra.data.tasks import Split, get_task, load_split, resolve_data_dir
from lra.distill import distillation_loss, load_teacher
from lra.errors import LraError
from lra.model import build_model, cross_entropy
from lra.moe import auxiliary_loss
from lra.safe_io import atomic_write, atomic_write_json, load_torch, read_json, read_jsonl

SCHEDULES = ("rsqrt", "cosine", "constant")
PRECISIONS = ("float32", "bf16", "fp16")


def learning_rate(step: int, config: TrainConfig) -> float:
    """LRA's product-of-factors schedule; step counts optimizer updates from 0 (so the first lr is 0)."""
    if config.schedule not in SCHEDULES:
        raise LraError(f"train.schedule={config.schedule!r}: expected one of {', '.join(SCHEDULES)}")
    warmup = max(config.warmup_steps, 0)
    lr = config.lr * (min(1.0, step / warmup) if warmup else 1.0)
    if config.schedule == "rsqrt":
        lr /= math.sqrt(max(step, warmup, 1))
    elif config.schedule == "cosine":
        # LRA's steps_per_cycle is the total step count, so the cosine ends short of zero: (steps - warmup)
        # / steps of a half cycle has passed at the last step.
        cycle = max(config.cycle_steps or config.steps, 1)
        progress = max(0.0, (step - warmup) / cycle)
        lr *= max(0.0, 0.5 * (1.0 + math.cos(math.pi * (progress % 1.0))))
    return lr


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> torch.Tensor:
    """Indices of the training batch at `step`: a fresh permutation per epoch, last partial batch dropped."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise LraError(f"the training split has {n} examples, fewer than train.batch_size={batch_size}")
    epoch, position = divmod(step, per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return order[position * batch_size : (position + 1) * batch_size]


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """One AdamW group for all parameters (LRA decays everything), plus one per distinct `_optim` tag.

    A tag such as S4D's {"lr": 1e-3, "weight_decay": 0.0} gives its parameters that peak lr (following the
    same schedule shape) and that weight decay.
    """
    plain, tagged = [], {}
    for param in model.parameters():
        tag = getattr(param, "_optim", None)
        if tag is None:
            plain.append(param)
        else:
            tagged.setdefault(tuple(sorted(tag.items())), []).append(param)
    groups = [{"params": plain, "lr_scale": 1.0}]
    for key, params in tagged.items():
        tag = dict(key)
        scale = tag["lr"] / config.lr if "lr" in tag and config.lr > 0 else 1.0
        groups.append({"params": params, "lr_scale": scale,
                       "weight_decay": tag.get("weight_decay", config.weight_decay)})
    return [g for g in groups if g["params"]]


def trim_padding(tokens: torch.Tensor) -> torch.Tensor:
    """Drop trailing columns that are padding in every row: exact for padding-invariant models, and fast."""
    used = (tokens != 0).reshape(-1, tokens.shape[-1]).any(dim=0)
    length = int(used.nonzero().max()) + 1 if bool(used.any()) else 1
    return tokens[..., :length]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LraError("train.device=cuda but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise LraError(f"train.device={name!r}: expected auto, cpu or cuda")
    return torch.device(name)


@dataclass
class Evaluation:
    accuracy: float
    loss: float
    examples: int
    majority: float | None = None  # token objectives: the most frequent target's share (lra/pretrain.py)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int, device: torch.device, trim: bool = True) -> Evaluation:
    if isinstance(model, pretrain.TokenPredictor):
        accuracy, loss, _, majority = pretrain.evaluate_tokens(model, split.tokens, batch_size, device,
                                                               trim_padding if trim else lambda t: t)
        return Evaluation(accuracy, loss, len(split), majority)
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    for start in range(0, len(split), batch_size):
        tokens = split.tokens[start : start + batch_size]
        tokens = (trim_padding(tokens) if trim else tokens).to(device, torch.long)
        labels = split.labels[start : start + batch_size].to(device)
        logits = model(tokens)
        loss_sum += float(cross_entropy(logits, labels)) * len(labels)
        correct += int((logits.argmax(dim=-1) == labels).sum())
    model.train(was_training)
    n = max(len(split), 1)
    return Evaluation(correct / n, loss_sum / n, len(split))


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict:
    """A checkpoint of ours: tensors and plain containers only (weights_only), so a crafted file cannot run
    code; anything else is one line naming the file."""
    state = load_torch(path)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise LraError(f"{path}: not an lra checkpoint (expected a dict with the model's weights)")
    return state


# What a checkpoint's weights depend on: a config.json edited afterwards in these is refused, not evaluated.
WEIGHT_DEFINING = ("task", "model", "data.max_length", "data.pixel_offset")


def _lookup(config: dict, key: str):
    for part in key.split("."):
        config = config.get(part) if isinstance(config, dict) else None
    return config


def load_weights(model: nn.Module, state: dict, path: Path, config: RunConfig) -> None:
    """Load a checkpoint's weights into `model`, refusing one written for another model or task."""
    stored = state.get("config")
    if isinstance(stored, dict):
        mine, stored = with_current_option_names(config.to_dict()), _normalised(stored)
        differing = [key for key in WEIGHT_DEFINING if _lookup(mine, key) != _lookup(stored, key)]
        if differing:
            raise LraError(f"{path} was written for another configuration than config.json "
                           f"(differs in {', '.join(differing)}); restore config.json or use a new run")
    weights, expected = state["model"], model.state_dict()
    missing, unexpected = sorted(expected.keys() - weights.keys()), sorted(weights.keys() - expected.keys())
    if missing or unexpected or any(getattr(weights[k], "shape", None) != v.shape for k, v in expected.items()):
        detail = (f"{len(missing)} missing weight(s) e.g. {missing[0]}" if missing else
                  f"{len(unexpected)} unexpected weight(s) e.g. {unexpected[0]}" if unexpected else
                  "weights of other shapes")
        raise LraError(f"checkpoint {path} does not fit the model of config.json: {detail}")
    distributed.load_model_state(model, weights)


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold an exclusive lock on run_dir for as long as a trainer writes it; a second trainer is refused."""
    import fcntl

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / ".lock", "a+")
    except OSError as error:
        raise LraError(f"cannot write the run directory {run_dir}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LraError(f"{run_dir} is in use by another trainer (pid {holder}); wait for it or choose "
                           "another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def build_for(config: RunConfig) -> nn.Module:
    task = get_task(config.task)
    if config.train.objective != "classify":
        return pretrain.build_predictor(config, task.vocab_for(config.data), config.data.max_length)
    return build_model(
        config.model, vocab_size=task.vocab_for(config.data), num_classes=task.num_classes,
        max_len=config.data.max_length, two_tower=task.two_tower,
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def read_run_config(run_dir: Path) -> RunConfig:
    path = run_dir / "config.json"
    if not path.is_file():
        raise LraError(f"{run_dir} is not a run directory (no config.json)")
    return RunConfig.from_dict(read_json(path, "a run configuration"), source=str(path))


def _use_trim(config: RunConfig) -> bool:
    """Trim trailing padding only where that cannot change a prediction."""
    from lra.attention import get_spec

    spec = get_spec(config.model.attention)
    # LRA's unmasked mean pools over padding too, so padding is part of the computation there.
    return config.model.pooling != "mean_unmasked" and not spec.length_dependent


def _normalised(raw: Any) -> Any:
    """A checkpoint's config with every field a later version added at its default, options under current
    names: so a run checkpointed before a field existed still resumes."""
    try:
        return with_current_option_names(RunConfig.from_dict(raw).to_dict())
    except (LraError, TypeError, AttributeError):
        return raw


def _rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, forget evaluations logged after the checkpoint: they will be logged again."""
    if not path.exists():
        return
    # A line torn by a kill in mid-write is skipped: its evaluation is logged again after resuming.
    kept = [r for r in read_jsonl(path) if isinstance(r.get("step"), int) and r["step"] <= step]
    atomic_write(path, lambda f: f.write("".join(json.dumps(r) + "\n" for r in kept).encode()))


def _tensorboard_writer(run_dir: Path):
    """Scalars of every evaluation under run_dir/tensorboard (`tensorboard --logdir RUN`)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise LraError("train.tensorboard=true needs the tensorboard package: pip install -e .[tensorboard]") from None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


# ---------------------------------------------------------------- the training loop, phase by phase


@dataclass
class Window:
    """This rank's training statistics since the last evaluation (summed across ranks when logged)."""

    loss_sum: float = 0.0
    correct: float = 0.0
    examples: float = 0.0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class Training:
    """A run in progress: what setup builds, and the counters that a checkpoint saves."""

    config: RunConfig
    run_dir: Path
    device: torch.device
    world: distributed.World
    shard: distributed.World  # the ranks that split each batch (all, or none under tensor parallelism)
    collective: bool  # forward passes and state dicts need every rank (train.parallel tensor or fsdp)
    splits: dict[str, Split]
    raw_model: nn.Module  # `model` is this (sharded in place under tensor/fsdp), or its DDP wrapper
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    trim: bool
    eval_batch_size: int
    step: int = 0
    best_val: float = -1.0
    best_step: int = 0
    elapsed: float = 0.0  # training seconds so far, over every process that worked on this run
    started: float = 0.0  # perf_counter() at which `elapsed` was 0 (earlier than now when resumed)
    window: Window = field(default_factory=Window)
    tensorboard: Any = None
    bar: Any = None
    teacher: nn.Module | None = None  # frozen, with train.teacher (lra/distill.py)
    energy: Any = None  # lra.cost.EnergyMeter, started with the training


def train(
    config: RunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """Train, evaluate, write the run directory; returns the contents of results.json.

    Under torchrun every rank trains on its share of each global batch; rank 0 evaluates and writes files.
    """
    run = _setup(config, Path(run_dir), resume)
    distributed.barrier(run.world)
    # Only the writing process holds the run directory's lock; it is taken before anything is written.
    with run_lock(run.run_dir) if run.world.main else contextlib.nullcontext():
        _start(run, resume, progress)
        tc = config.train
        while run.step < tc.steps:
            _train_step(run)
            if run.step % tc.eval_every == 0 or run.step == tc.steps:
                _evaluate_and_log(run)
            run.elapsed = time.perf_counter() - run.started
            if run.step % tc.checkpoint_every == 0 or run.step == tc.steps:
                _checkpoint(run)
            if on_step is not None:
                on_step(run.step)
        return _finish(run)


def _setup(config: RunConfig, run_dir: Path, resume: bool) -> Training:
    # Setup: device and processes, the refusals that need no files written, data, model, optimizer.
    validate(config)
    tc = config.train
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    device = resolve_device(tc.device)
    world = distributed.setup(device.type)
    if device.type == "cuda" and world.size > 1:
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    shard = distributed.data_shard(world, tc.parallel)
    if tc.batch_size % (shard.size * tc.grad_accum):
        raise LraError(f"train.batch_size={tc.batch_size} must divide into {shard.size} process(es) x "
                       f"train.grad_accum={tc.grad_accum} equal micro-batches")

    if resume:
        stored = read_run_config(run_dir)
        if with_current_option_names(stored.to_dict()) != with_current_option_names(config.to_dict()):
            raise LraError(f"{run_dir} holds a run of another config; resume with the stored config or a new --out")
    elif (run_dir / "config.json").exists():
        raise LraError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")

    splits = {name: load_split(config.task, name, config.data) for name in ("train", "val", "test")}
    torch.manual_seed(tc.seed)
    raw_model = build_for(config)
    # On resume last.pt holds the weights; a run stopped before its first checkpoint starts from init_from again.
    if tc.init_from and not (resume and (run_dir / "last.pt").exists()):
        pretrain.load_encoder(raw_model, tc.init_from, config)
    raw_model = raw_model.to(device)
    model = distributed.wrap(raw_model, world, tc.parallel, device)
    optimizer = torch.optim.AdamW(
        parameter_groups(raw_model, tc), lr=0.0, betas=(tc.beta1, tc.beta2), eps=tc.eps,
        weight_decay=tc.weight_decay,
        # Tensor parallelism mixes split (DTensor) and replicated parameters, which fused multi-tensor kernels
        # (torch's default on CUDA) refuse in one group.
        **({"foreach": False} if tc.parallel == "tensor" and world.size > 1 else {}),
    )
    scaler = torch.amp.GradScaler(device.type, enabled=tc.precision == "fp16")
    teacher = load_teacher(tc.teacher, config.task, device) if tc.teacher else None
    # A resumed run's earlier sessions were not metered: its energy is then estimated over the whole time.
    energy = EnergyMeter(device, measure=not resume)
    return Training(config, run_dir, device, world, shard, distributed.collective(world, tc.parallel), splits,
                    raw_model, model, optimizer, scaler,
                    trim=_use_trim(config), eval_batch_size=tc.eval_batch_size or tc.batch_size, teacher=teacher,
                    energy=energy)


def _start(run: Training, resume: bool, progress: bool) -> None:
    # Start or resume, under the lock: config.json, tensorboard, and on resume the weights, optimizer,
    # counters and RNG states of last.pt, with metrics.jsonl cut back to the checkpoint's step.
    config, tc, world = run.config, run.config.train, run.world
    last_path = run.run_dir / "last.pt"
    if world.main:
        if not resume and (run.run_dir / "config.json").exists():
            raise LraError(f"{run.run_dir} already holds a run; pass --resume to continue it or choose another --out")
        atomic_write_json(run.run_dir / "config.json", config.to_dict())
    run.tensorboard = _tensorboard_writer(run.run_dir) if world.main and tc.tensorboard else None

    # Dropout differs per batch shard, reproducibly; tensor-parallel ranks share one stream, as they share the
    # replicated activations.
    torch.manual_seed(tc.seed * 7919 + run.shard.rank)
    if resume and last_path.exists():
        state = load_checkpoint(last_path)
        if _normalised(state.get("config")) != with_current_option_names(config.to_dict()):
            raise LraError(f"checkpoint {last_path} was written by another config")
        if len(state["rng"]) != world.size:
            raise LraError(f"{last_path} was written by {len(state['rng'])} process(es); resume it with as many")
        load_weights(run.raw_model, state, last_path, config)
        distributed.load_optimizer_state(run.raw_model, run.optimizer, state["optimizer"])
        run.scaler.load_state_dict(state["scaler"])
        run.step, run.best_val, run.best_step = state["step"], state["best_val"], state["best_step"]
        run.elapsed = state["elapsed"]
        _set_rng_state(state["rng"][world.rank])
    if world.main:
        _truncate_metrics(run.run_dir / "metrics.jsonl", run.step)

    run.window = Window()
    run.bar = runtime.progress_bar(progress and world.main, tc.steps, f"{config.task}/{config.model_name}",
                                   initial=run.step)
    run.model.train()
    run.started = time.perf_counter() - run.elapsed


def _train_step(run: Training) -> None:
    # Step: one optimizer update on the global batch of this step; this rank's share of it in
    # train.grad_accum micro-batches, gradients synchronised across ranks on the last one only.
    tc, shard, split, window = run.config.train, run.shard, run.splits["train"], run.window
    idx = batch_indices(run.step, len(split), tc.batch_size, tc.seed)
    micro_batches = idx[shard.rank :: shard.size].chunk(tc.grad_accum)
    # DDP can skip the all-reduce until the last micro-batch; FSDP reduces each one into its sharded gradients.
    deferred_sync = isinstance(run.model, nn.parallel.DistributedDataParallel)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(run.step, tc) * group["lr_scale"]
    run.optimizer.zero_grad(set_to_none=True)
    targets = _token_targets(run, micro_batches)
    counted = float(sum(pretrain.count_targets(t) for _, t in targets))
    step_targets = distributed.sum_across(shard, [counted])[0] if targets else 0.0
    for i, micro in enumerate(micro_batches):
        labels = split.labels[micro].to(run.device)
        sync = i == len(micro_batches) - 1 or not deferred_sync
        with (contextlib.nullcontext() if sync else run.model.no_sync()), runtime.autocast(run.device, tc.precision):
            if targets:
                inputs, wanted = (t.to(run.device) for t in targets[i])
                shares = shard.size * tc.grad_accum
                loss, logged, share = pretrain.step_loss(run.model, inputs, wanted, step_targets, shares)
                correct = share * len(labels)
            else:
                tokens = split.tokens[micro]
                tokens = (trim_padding(tokens) if run.trim else tokens).to(run.device, torch.long)
                loss, correct = _batch_loss(run, tokens, labels)
                logged = loss.item()
            total = (loss + run.config.model.moe_loss_weight * auxiliary_loss(run.raw_model)
                     + run.config.model.ponder_weight * ponder_cost(run.raw_model))
        run.scaler.scale(total / tc.grad_accum).backward()
        window.loss_sum += logged * len(labels)
        window.correct += correct
        window.examples += len(labels)
    if tc.grad_clip > 0:
        run.scaler.unscale_(run.optimizer)
        distributed.clip_grad_norm(run.raw_model, tc.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.step += 1
    if run.bar is not None:
        run.bar.update(1)
        seconds = max(time.perf_counter() - window.started, 1e-9)
        run.bar.set_postfix(loss=f"{window.loss_sum / window.examples:.3f}",
                            acc=f"{window.correct / window.examples:.3f}",
                            ex_s=f"{window.examples * shard.size / seconds:.0f}")


def _token_targets(run: Training, micro_batches: tuple[torch.Tensor, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For a token objective (lra/pretrain.py), every micro-batch's inputs and targets of this step, drawn before
    the first forward so the step's loss can be the mean over all of them; [] when classifying."""
    if not isinstance(run.raw_model, pretrain.TokenPredictor):
        return []
    tokens, tc = run.splits["train"].tokens, run.config.train
    trim = trim_padding if run.trim else (lambda t: t)
    return [pretrain.seeded_inputs_and_targets(run.raw_model, tokens[micro].long(),
                                               pretrain.training_seeds(tc.seed, run.step, micro), trim)
            for micro in micro_batches]


def _batch_loss(run: Training, tokens: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """One classification micro-batch's loss (with the teacher's soft targets under train.teacher) and how many
    of its examples were right."""
    logits = run.model(tokens)
    if run.teacher is None:
        loss = cross_entropy(logits, labels)
    else:
        with torch.no_grad():
            teacher_logits = run.teacher(tokens)
        tc = run.config.train
        loss = distillation_loss(logits, teacher_logits, labels, tc.distill_alpha, tc.distill_temperature)
    return loss, int((logits.argmax(-1) == labels).sum())


def _evaluate_and_log(run: Training) -> None:
    # Evaluate and log: rank 0 (every rank, under tensor/fsdp) evaluates on the validation split; rank 0 appends
    # one line to metrics.jsonl (and tensorboard) and keeps best.pt; every rank learns the best so far.
    tc, world, window = run.config.train, run.world, run.window
    loss_sum, correct, seen = distributed.sum_across(run.shard, [window.loss_sum, window.correct, window.examples])
    val = None
    if world.main or run.collective:
        val = evaluate(run.raw_model, run.splits["val"], run.eval_batch_size, run.device, run.trim)
    if world.main:
        now = time.perf_counter()
        record = {
            "step": run.step, "lr": learning_rate(run.step - 1, tc),
            "train_loss": loss_sum / seen, "train_acc": correct / seen,
            "val_loss": val.loss, "val_acc": val.accuracy,
            "examples_per_s": seen / max(now - window.started, 1e-9), "elapsed_s": now - run.started,
        }
        metrics = run.run_dir / "metrics.jsonl"
        try:
            with open(metrics, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as error:
            raise LraError(f"cannot write {metrics}: {error.strerror or error}") from None
        if run.tensorboard is not None:
            for name, value in record.items():
                if name != "step":
                    run.tensorboard.add_scalar(name, value, run.step)
            run.tensorboard.flush()
    improved = distributed.broadcast(world, val is not None and val.accuracy > run.best_val)
    if improved:
        if world.main:
            run.best_val, run.best_step = val.accuracy, run.step
        weights = distributed.model_state(run.raw_model) if world.main or run.collective else None
        if world.main:
            save_checkpoint(run.run_dir / "best.pt", {"config": run.config.to_dict(), "step": run.step,
                                                      "model": weights, "val_acc": run.best_val})
    run.best_val, run.best_step = distributed.broadcast(world, (run.best_val, run.best_step))
    run.window = Window()


def _checkpoint(run: Training) -> None:
    # Checkpoint: everything an exact resume needs, with the RNG states of every rank, written by rank 0;
    # under tensor/fsdp every rank first gathers the full weights and optimizer state.
    rng = distributed.gather(run.world, _rng_state())
    if run.world.main or run.collective:
        weights = distributed.model_state(run.raw_model)
        optimizer = distributed.optimizer_state(run.raw_model, run.optimizer)
    if run.world.main:
        save_checkpoint(run.run_dir / "last.pt", {
            "config": run.config.to_dict(), "model": weights,
            "optimizer": optimizer, "scaler": run.scaler.state_dict(), "step": run.step,
            "best_val": run.best_val, "best_step": run.best_step, "elapsed": run.elapsed, "rng": rng,
        })


def _finish(run: Training) -> dict:
    # Finish: rank 0 (with every rank under tensor/fsdp) tests the last parameters and the best-validation ones
    # and writes results.json.
    if run.bar is not None:
        run.bar.close()
    if run.tensorboard is not None:
        run.tensorboard.close()
    train_time = time.perf_counter() - run.started
    peaks = distributed.gather(run.world, round(runtime.peak_memory_mb(run.device), 1))
    results = _final_results(run, train_time, peaks) if run.world.main or run.collective else {}
    distributed.barrier(run.world)
    distributed.teardown(run.world)
    return results if run.world.main else {}


def _final_results(run: Training, train_time: float, peak_memory_mb: list[float]) -> dict:
    config, model, splits = run.config, run.raw_model, run.splits
    test_last = evaluate(model, splits["test"], run.eval_batch_size, run.device, run.trim)
    val_last = evaluate(model, splits["val"], run.eval_batch_size, run.device, run.trim)
    best = run.run_dir / "best.pt"
    if run.collective:  # rank 0 may still be writing best.pt: every rank waits for it before reading
        distributed.barrier(run.world)
    load_weights(model, load_checkpoint(best), best, config)
    test_best = evaluate(model, splits["test"], run.eval_batch_size, run.device, run.trim)
    results = {
        "task": config.task, "model": config.model_name, "preset": config.preset,
        "val_acc": run.best_val, "val_acc_last": val_last.accuracy, "best_step": run.best_step,
        "test_acc": test_best.accuracy, "test_acc_last": test_last.accuracy,
        # For a token objective, the most frequent target token's share (computed with test_last).
        "test_majority_acc": test_last.majority if test_last.majority is not None
        else splits["test"].majority_accuracy(),
        "test_examples": len(splits["test"]),
        "steps": run.step, "wall_time_s": round(time.perf_counter() - run.started, 2),
        "train_time_s": round(train_time, 2), "steps_per_s": round(run.step / max(train_time, 1e-9), 3),
        "parameters": count_parameters(model), "processes": run.world.size, "parallel": config.train.parallel,
        "peak_memory_mb": peak_memory_mb,  # per process, in rank order, at the end of training
        "cost": run.energy.record(train_time, torch.get_num_threads(), run.world.size),
        "data_dir": str(resolve_data_dir(config.task, config.data)),
        "environment": runtime.environment(run.device),
    }
    if run.world.main:
        atomic_write_json(run.run_dir / "results.json", results)
    return results


def load_run(run_dir: str | Path, checkpoint: str = "last") -> tuple[RunConfig, nn.Module, dict, torch.device]:
    """A saved run's config, its model at the last (LRA's protocol) or best-validation weights on the run's
    device, and the checkpoint it came from."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if checkpoint not in ("best", "last"):
        raise LraError(f"unknown checkpoint {checkpoint!r}; expected best or last")
    path = run_dir / f"{checkpoint}.pt"
    if not path.is_file():
        raise LraError(f"{run_dir} has no {path.name}: the run has not reached its first evaluation")
    device = resolve_device(config.train.device)
    model = build_for(config).to(device)
    state = load_checkpoint(path)
    load_weights(model, state, path, config)
    return config, model, state, device


def evaluate_run(run_dir: str | Path, split: str = "test", checkpoint: str = "last", progress: bool = False) -> dict:
    """Re-evaluate a saved run on a split with its last (LRA's protocol) or best-validation weights."""
    if split not in ("train", "val", "test"):
        raise LraError(f"unknown split {split!r}; expected train, val or test")
    config, model, state, device = load_run(run_dir, checkpoint)
    data = load_split(config.task, split, config.data)
    result = evaluate(model, data, config.train.eval_batch_size or config.train.batch_size, device, _use_trim(config))
    return {"run": str(run_dir), "split": split, "checkpoint": checkpoint, "accuracy": result.accuracy,
            "loss": result.loss, "examples": result.examples, "step": state.get("step")}
