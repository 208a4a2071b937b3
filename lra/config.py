"""Typed run configuration and `section.key=value` overrides.

A run is fully described by a `RunConfig`: it is written to `config.json` in the run directory and read
back by `lra eval` and `--resume`. Presets (lra/presets/) are flat dicts of overrides on these defaults.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lra.errors import LraError


def _rule(default: Any, check: Callable[[Any], str | None] | None = None, **kwargs: Any) -> Any:
    """A field with its constraint beside it: check(value) returns what was expected, or None if fine."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"check": check}, **kwargs)
    return field(default=default, metadata={"check": check}, **kwargs)


def at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"a number >= {low:g}"


def above(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v > low else f"a number > {low:g}"


def fraction(v: float) -> str | None:
    """A rate in [0, 1): a dropout of 1 would zero every activation."""
    return None if 0.0 <= v < 1.0 else "a rate in [0, 1)"


def halting_threshold(v: float) -> str | None:
    """ACT's halting threshold: a token halts when its summed halting probability would pass it; 1 is allowed
    (every token then runs to the last step, since the sum of probabilities below 1 never passes 1)."""
    return None if 0.0 < v <= 1.0 else "a threshold in (0, 1]"


def one_of(*choices: Any) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else "one of " + ", ".join(map(str, choices))


# The longest sequence of any task (Pathfinder 256x256 = 65,536 pixels); a longer one is a typo that would
# only surface as a multi-GB cache or an allocation failure.
MAX_SEQUENCE_LENGTH = 1 << 16


@dataclass
class ModelConfig:
    attention: str = "transformer"
    attention_options: dict[str, Any] = _rule({})  # checked against the mechanism's own dataclass
    num_layers: int = _rule(4, at_least(1))
    emb_dim: int = _rule(512, at_least(1))
    qkv_dim: int = _rule(512, at_least(1))
    mlp_dim: int = _rule(1024, at_least(1))
    num_heads: int = _rule(8, at_least(1))
    dropout: float = _rule(0.1, fraction)
    attention_dropout: float = _rule(0.1, fraction)
    positions: str = _rule("sinusoidal", one_of("sinusoidal", "learned"))
    # cls | mean (masked) | mean_unmasked (LRA's) | first (position 0, no CLS token)
    pooling: str = _rule("cls", one_of("cls", "mean", "mean_unmasked", "first"))
    # two-tower head: nli = [u, v, u*v, u-v] (paper) | concat = [u, v] (released code)
    interaction: str = _rule("nli", one_of("nli", "concat"))
    causal: bool = False
    # Memory and scale techniques (docs/techniques.md): all off by default.
    share_layers: bool = False  # one block's parameters reused at every layer
    checkpoint_blocks: bool = False  # recompute each block's activations in the backward pass
    reversible: bool = False  # RevNet coupling; activations rebuilt from the outputs in the backward pass
    moe_experts: int = _rule(0, at_least(0))  # > 0: a switch (top-1) mixture-of-experts FFN with this many experts
    moe_loss_weight: float = _rule(0.01, at_least(0))  # weight of the switch load-balancing loss
    # Adaptive computation time (lra/act.py): one shared block applied up to num_layers times, each token
    # halting on its own; the ponder cost (steps + remainder) is added to the loss with ponder_weight (tau).
    adaptive_depth: bool = False
    ponder_weight: float = _rule(0.01, at_least(0))
    halt_threshold: float = _rule(0.99, halting_threshold)  # can be lowered at inference: `lra eval --halt-threshold`


@dataclass
class DataConfig:
    data_dir: str = ""  # empty: data/<task> under the working directory
    max_length: int = _rule(2000, lambda v: None if 1 <= v <= MAX_SEQUENCE_LENGTH
                            else f"a length in [1, {MAX_SEQUENCE_LENGTH}]")
    # Pixel tasks: 1 = pixels are tokens 1..256 and none is padding (default); 0 = LRA's raw 0..255 tokens,
    # where a black pixel equals the pad id and is masked out of attention (docs/tasks.md says why).
    pixel_offset: int = _rule(1, one_of(0, 1))
    difficulty: str = _rule("hard", one_of("easy", "intermediate", "hard"))  # Pathfinder / Path-X
    max_examples: int = _rule(0, at_least(0))  # > 0: a fixed random subset of at most this many per split
    max_eval_examples: int = _rule(0, at_least(0))  # > 0: the same for val and test only (after max_examples)
    # Only for generated data (ListOps): what `lra data generate` used, kept here so a run records it.
    generate: dict[str, Any] = _rule({})


@dataclass
class TrainConfig:
    batch_size: int = _rule(32, at_least(1))
    lr: float = _rule(0.05, above(0))
    schedule: str = _rule("rsqrt", one_of("rsqrt", "cosine", "constant"))  # see lra.trainer.learning_rate
    warmup_steps: int = _rule(1000, at_least(0))
    cycle_steps: int = _rule(0, at_least(0))  # cosine decay: steps per cycle after warmup; 0 = train.steps (LRA)
    weight_decay: float = _rule(0.1, at_least(0))
    beta1: float = _rule(0.9, fraction)
    beta2: float = _rule(0.98, fraction)
    eps: float = _rule(1e-9, above(0))
    grad_clip: float = _rule(0.0, at_least(0))  # global-norm clipping; 0 = off
    grad_accum: int = _rule(1, at_least(1))  # micro-batches per step; batch_size stays the global batch
    precision: str = _rule("float32", one_of("float32", "bf16", "fp16"))  # bf16 autocast | fp16 with loss scaling
    steps: int = _rule(5000, at_least(1))
    eval_every: int = _rule(50, at_least(1))
    eval_batch_size: int = _rule(0, at_least(0))  # 0 = batch_size
    checkpoint_every: int = _rule(500, at_least(1))
    seed: int = _rule(0, at_least(0))
    device: str = _rule("auto", lambda v: None if v in ("auto", "cpu", "cuda") or v.startswith("cuda:")
                        else "auto, cpu, cuda or cuda:N")
    threads: int = _rule(0, at_least(0))  # torch CPU threads; 0 = torch's default
    tensorboard: bool = False  # also log every evaluation for TensorBoard (the `tensorboard` extra)
    # Knowledge distillation (lra/distill.py): a finished run of the same task as a frozen teacher.
    teacher: str = ""  # its run directory; "" = no teacher
    distill_alpha: float = _rule(0.5, fraction)  # weight of the teacher's soft targets against the labels
    distill_temperature: float = _rule(2.0, above(0))
    # Under torchrun (lra/distributed.py): data = DDP, each rank a share of the batch; tensor = attention heads
    # and MLP channels split across ranks (DTensor), every rank the whole batch; fsdp = parameters, gradients
    # and optimizer state sharded (FSDP2), each rank a share of the batch. Without torchrun all three are one
    # ordinary process.
    parallel: str = _rule("data", one_of("data", "tensor", "fsdp"))
    # Self-pretraining (lra/pretrain.py): classify = the task's labels; denoise = masked-token prediction;
    # autoregressive = next-token prediction (model.causal=true). init_from = a run whose encoder starts this one.
    objective: str = _rule("classify", one_of("classify", "denoise", "autoregressive"))
    mask_rate: float = _rule(0.15, lambda v: None if 0.0 < v <= 1.0 else "a rate in (0, 1]")
    init_from: str = ""


@dataclass
class RunConfig:
    task: str = "listops"
    preset: str = "paper"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def model_name(self) -> str:
        return self.model.attention

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        if not isinstance(raw, dict):
            raise LraError(f"{source}: expected a JSON object of config sections, found a {type(raw).__name__}")
        config = cls()
        for key, value in _flatten(raw).items():
            set_value(config, key, value, source=source, from_text=False)
        validate(config, source=source)
        return config


def _flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and not path.endswith(("attention_options", "generate")):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _coerce(text: str, hint: Any, key: str) -> Any:
    """Parse an override's text into the field's type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None) and text.lower() in ("none", "null"):
                return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if hint is str:
            return text
    except ValueError:
        raise LraError(f"override {key}={text!r}: expected a value of type {hint.__name__}") from None
    return json.loads(text) if text[:1] in "[{" else _guess(text)


def _guess(text: str) -> Any:
    """Options of a mechanism are typed by its own dataclass later; here keep numbers as numbers."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() in ("none", "null"):
        return None
    return text


def valid_keys() -> list[str]:
    keys = ["task", "preset"]
    for section in ("model", "data", "train"):
        cls = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}[section]
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def set_value(config: RunConfig, key: str, value: Any, *, source: str = "--set", from_text: bool = True) -> None:
    """Set `section.field` (or `model.attention_options.NAME`) on config, with type checking."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "model" and parts[1] in ("attention_options",) or (
        len(parts) == 3 and parts[:2] == ["data", "generate"]
    ):
        target = getattr(getattr(config, parts[0]), parts[1])
        target[parts[2]] = _guess(value) if from_text and isinstance(value, str) else value
        return
    if len(parts) == 1 and parts[0] in ("task", "preset"):
        setattr(config, parts[0], str(value))
        return
    if len(parts) != 2 or parts[0] not in ("model", "data", "train"):
        raise LraError(f"{source}: unknown key {key!r}; valid keys: {', '.join(valid_keys())}")
    section = getattr(config, parts[0])
    hints = typing.get_type_hints(type(section))
    if parts[1] not in hints:
        raise LraError(f"{source}: unknown key {key!r}; valid keys: {', '.join(valid_keys())}")
    hint = hints[parts[1]]
    if from_text and isinstance(value, str):
        value = _coerce(value, hint, key)
    elif hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif typing.get_origin(hint) is dict and not isinstance(value, dict):
        raise LraError(f"{source}: {key} must be a mapping, got {value!r}")
    elif hint in (int, float, str, bool) and not isinstance(value, hint):
        raise LraError(f"{source}: {key} must be {hint.__name__}, got {value!r}")
    # A copy: a later `model.attention_options.NAME` override edits the config's dict in place, and must not
    # edit the preset module's dict (or a caller's) that the value came from.
    setattr(section, parts[1], copy.deepcopy(value) if isinstance(value, dict) else value)


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    for item in overrides:
        if "=" not in item:
            raise LraError(f"--set {item!r}: expected key=value, e.g. train.lr=0.01")
        key, value = item.split("=", 1)
        set_value(config, key.strip(), value.strip())
    return config


def validate(config: RunConfig, source: str = "config") -> None:
    """Every value in range, every name registered, every mechanism option known and valid: checked before
    a run writes anything, so a typo never leaves a half-made run directory behind."""
    from lra.attention.registry import get_spec, make_options
    from lra.data.tasks import check_length, get_task

    get_task(config.task)
    for section_name in ("model", "data", "train"):
        section = getattr(config, section_name)
        hints = typing.get_type_hints(type(section))
        for f in dataclasses.fields(section):
            key, value, hint = f"{section_name}.{f.name}", getattr(section, f.name), hints[f.name]
            if hint in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                         or hint is int and not isinstance(value, int)):
                raise LraError(f"{source}: {key}={value!r}: expected {hint.__name__}")
            if hint is float and not math.isfinite(value):
                raise LraError(f"{source}: {key}={value!r}: expected a finite number")
            if hint in (str, bool) and not isinstance(value, hint):
                raise LraError(f"{source}: {key}={value!r}: expected {hint.__name__}")
            check = f.metadata.get("check")
            problem = check(value) if check is not None else None
            if problem is not None:
                raise LraError(f"{source}: {key}={value!r}: expected {problem}")
    try:
        check_length(config.task, config.data.max_length)
    except LraError as error:
        raise LraError(f"{source}: {error}") from None
    model = config.model
    spec = get_spec(model.attention)
    if spec.has_heads and model.qkv_dim % model.num_heads:
        raise LraError(f"{source}: model.qkv_dim={model.qkv_dim} must be divisible by model.num_heads="
                       f"{model.num_heads}")
    make_options(model.attention, model.attention_options)
    try:
        spec.check_context(model.causal, model.attention_dropout if spec.has_attention_weights else 0.0)
    except LraError as error:
        raise LraError(f"{source}: model.causal={model.causal}: {error}") from None
    if model.reversible and model.moe_experts:
        raise LraError(f"{source}: model.reversible and model.moe_experts cannot be combined (the balancing loss "
                       "needs stored activations)")
    # ACT's update w * new + (1 - w) * state cannot be inverted where w = 1 (and the number of steps depends on
    # the data), so there is no reversible form; checkpoint_blocks works per step, share_layers is implied.
    if model.adaptive_depth and model.reversible:
        raise LraError(f"{source}: model.adaptive_depth and model.reversible cannot be combined (an ACT step "
                       "cannot be undone from its output)")
    if model.adaptive_depth and config.train.parallel == "fsdp":
        raise LraError(f"{source}: model.adaptive_depth and train.parallel=fsdp cannot be combined (each rank's "
                       "batch halts after its own number of steps, but FSDP gathers the shared block on every rank "
                       "at once)")
    if model.adaptive_depth and spec.kind == "encoder":
        raise LraError(f"{source}: model.adaptive_depth needs lra's own blocks, but model.attention="
                       f"{model.attention!r} is a whole encoder")
    parallel = config.train.parallel
    if parallel == "tensor" and config.train.precision == "fp16":
        raise LraError(f"{source}: train.precision=fp16 cannot be combined with train.parallel=tensor (its loss "
                       "scaler cannot unscale replicated and split gradients together); use train.precision=bf16")
    if parallel == "fsdp" and (model.moe_experts or model.reversible):
        flag = "model.moe_experts" if model.moe_experts else "model.reversible"
        why = ("an expert that gets no tokens on one rank would leave FSDP's gradient reductions unmatched"
               if model.moe_experts else "reversible blocks call the blocks' halves outside FSDP's forward hooks")
        raise LraError(f"{source}: {flag} cannot be combined with train.parallel=fsdp ({why}); use "
                       "train.parallel=data")
    if config.train.objective == "autoregressive" and not model.causal:
        raise LraError(f"{source}: train.objective=autoregressive needs model.causal=true (each position may only "
                       "see the tokens before the one it predicts)")
    if config.train.objective != "classify" and config.train.teacher:
        raise LraError(f"{source}: train.teacher distils a classifier; it cannot be combined with "
                       f"train.objective={config.train.objective}")
    if config.train.batch_size % config.train.grad_accum:
        raise LraError(f"{source}: train.batch_size={config.train.batch_size} must divide into "
                       f"train.grad_accum={config.train.grad_accum} equal micro-batches")


def with_current_option_names(raw: Any) -> Any:
    """A copy of a config dict (`RunConfig.to_dict()`, a run's config.json, a checkpoint's "config") with the
    mechanism's options under their current names, silently: the form in which to compare two configs, so
    that a run written before an option was renamed (the RENAMED tables, lra/attention/base.py) still matches
    the same run described with the new names. Anything that is not such a dict comes back unchanged."""
    from lra.attention.registry import renamed_options

    model = raw.get("model") if isinstance(raw, dict) else None
    options = model.get("attention_options") if isinstance(model, dict) else None
    if not isinstance(options, dict):
        return raw
    try:
        current = renamed_options(str(model.get("attention")), options, warn=False)
    except LraError:  # an unknown model, or an option under both names: nothing to translate
        return raw
    return {**raw, "model": {**model, "attention_options": current}}
