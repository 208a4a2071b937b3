"""Typed run configuration and `section.key=value` overrides.

A run is fully described by a `RunConfig`: it is written to `config.json` in the run directory and read
back by `lra eval` and `--resume`. Presets (lra/presets/) are flat dicts of overrides on these defaults.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from lra.errors import LraError


@dataclass
class ModelConfig:
    attention: str = "transformer"
    attention_options: dict[str, Any] = field(default_factory=dict)
    num_layers: int = 4
    emb_dim: int = 512
    qkv_dim: int = 512
    mlp_dim: int = 1024
    num_heads: int = 8
    dropout: float = 0.1
    attention_dropout: float = 0.1
    positions: str = "sinusoidal"  # sinusoidal | learned
    pooling: str = "cls"  # cls | mean (masked) | mean_unmasked (LRA's) | first (position 0, no CLS token)
    interaction: str = "nli"  # two-tower head: nli = [u, v, u*v, u-v] (paper) | concat = [u, v] (released code)
    causal: bool = False
    # Memory and scale techniques (docs/techniques.md): all off by default.
    share_layers: bool = False  # one block's parameters reused at every layer
    checkpoint_blocks: bool = False  # recompute each block's activations in the backward pass
    reversible: bool = False  # RevNet coupling; activations rebuilt from the outputs in the backward pass
    moe_experts: int = 0  # > 0: a switch (top-1) mixture-of-experts feed-forward with this many experts
    moe_loss_weight: float = 0.01  # weight of the switch load-balancing loss


@dataclass
class DataConfig:
    data_dir: str = ""  # empty: data/<task> under the working directory
    max_length: int = 2000
    # Pixel tasks: 1 = pixels are tokens 1..256 and none is padding (default); 0 = LRA's raw 0..255 tokens,
    # where a black pixel equals the pad id and is masked out of attention (docs/tasks.md says why).
    pixel_offset: int = 1
    difficulty: str = "hard"  # Pathfinder / Path-X: easy | intermediate | hard
    max_examples: int = 0  # > 0: a fixed random subset of at most this many examples per split (CPU presets)
    # Only for generated data (ListOps): what `lra data generate` used, kept here so a run records it.
    generate: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    batch_size: int = 32
    lr: float = 0.05
    schedule: str = "rsqrt"  # rsqrt: constant*linear_warmup*rsqrt_decay | cosine | constant
    warmup_steps: int = 1000
    cycle_steps: int = 0  # cosine decay: steps per cycle counted after warmup; 0 = train.steps (LRA)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-9
    grad_clip: float = 0.0  # global-norm clipping; 0 = off
    grad_accum: int = 1  # micro-batches per step; batch_size stays the global batch
    precision: str = "float32"  # float32 | bf16 (autocast) | fp16 (autocast with loss scaling)
    steps: int = 5000
    eval_every: int = 50
    eval_batch_size: int = 0  # 0 = batch_size
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch CPU threads; 0 = torch's default


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
        config = cls()
        for key, value in _flatten(raw).items():
            set_value(config, key, value, source=source, from_text=False)
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
    setattr(section, parts[1], value)


def apply_overrides(config: RunConfig, overrides: list[str]) -> RunConfig:
    for item in overrides:
        if "=" not in item:
            raise LraError(f"--set {item!r}: expected key=value, e.g. train.lr=0.01")
        key, value = item.split("=", 1)
        set_value(config, key.strip(), value.strip())
    return config
