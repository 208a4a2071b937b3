"""Name -> mechanism. A mechanism is an attention core (wrapped in MultiHeadAttention) or a whole mixer.

Registering is all it takes for a new mechanism to appear in `lra models`, in `--model NAME` and in
every registry-parametrised test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lra.attention.base import AttentionContext, MultiHeadAttention, SequenceMixer
from lra.errors import LraError


@dataclass(frozen=True)
class MechanismSpec:
    name: str
    cls: type
    options_cls: type
    kind: str  # "attention" (a core behind MultiHeadAttention) or "mixer" (a SequenceMixer itself)
    summary: str
    # Small settings under which the generic test battery can run quickly (block sizes that fit L=20...).
    test_options: dict[str, Any] = field(default_factory=dict)

    @property
    def has_attention_weights(self) -> bool:
        """Whether `attention_dropout` means anything here: an attention core that forms attention weights.
        Mixers and kernel cores (no weight matrix) refuse a rate above 0."""
        return self.kind == "attention" and self.cls.attention_weights


_REGISTRY: dict[str, MechanismSpec] = {}


def _register(name: str, options_cls: type, kind: str, summary: str, test_options: dict | None) -> Callable:
    if not dataclasses.is_dataclass(options_cls):
        raise TypeError(f"options of {name!r} must be a dataclass")

    def decorate(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"mechanism {name!r} is registered twice")
        _REGISTRY[name] = MechanismSpec(name, cls, options_cls, kind, summary, dict(test_options or {}))
        return cls

    return decorate


def register_attention(name: str, options_cls: type, *, summary: str, test_options: dict | None = None):
    """Class decorator for an AttentionCore: `__init__(self, options, ctx: AttentionContext)`."""
    return _register(name, options_cls, "attention", summary, test_options)


def register_mixer(name: str, options_cls: type, *, summary: str, test_options: dict | None = None):
    """Class decorator for a SequenceMixer: `__init__(self, options, dim: int, max_len: int, causal: bool)`."""
    return _register(name, options_cls, "mixer", summary, test_options)


def mechanism_names() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> MechanismSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LraError(f"unknown model {name!r}; registered: {', '.join(mechanism_names())}") from None


def make_options(name: str, options: dict[str, Any] | None = None) -> Any:
    """The mechanism's options dataclass, filled from a dict: unknown keys are rejected by name, and the
    dataclass checks its values (types, ranges, names, options with no effect in the chosen mode) in
    `__post_init__`. Every problem is one LraError line."""
    spec = get_spec(name)
    if options is not None and not isinstance(options, dict):
        raise LraError(f"model {name!r}: options must be a mapping of name to value, got {options!r}")
    options = dict(options or {})
    known = {f.name for f in dataclasses.fields(spec.options_cls)}
    unknown = sorted(set(options) - known, key=str)
    if unknown:
        raise LraError(
            f"unknown option(s) {', '.join(map(str, unknown))} for model {name!r}; "
            f"valid: {', '.join(sorted(known)) or '(none)'}"
        )
    try:
        return spec.options_cls(**options)
    except TypeError as error:
        raise LraError(f"model {name!r} options {options!r}: {error}") from None


def build_mixer(
    name: str,
    *,
    dim: int,
    qkv_dim: int,
    num_heads: int,
    max_len: int,
    causal: bool = False,
    attention_dropout: float = 0.0,
    options: dict[str, Any] | None = None,
) -> SequenceMixer:
    spec = get_spec(name)
    opts = make_options(name, options)
    if not 0.0 <= attention_dropout <= 1.0:
        raise LraError(f"model {name!r}: attention_dropout={attention_dropout!r}: expected a probability in [0, 1]")
    if not spec.has_attention_weights:
        # model.attention_dropout is the rate for mechanisms that form attention weights; the others have
        # none to drop (LRA's linear and Performer configs carry 0.1 that their layers ignore likewise).
        # A core built directly with a rate it cannot apply still refuses it (AttentionCore.__init__).
        attention_dropout = 0.0
    if spec.kind == "mixer":
        return spec.cls(opts, dim=dim, max_len=max_len, causal=causal)
    if qkv_dim % num_heads:
        raise LraError(f"qkv_dim={qkv_dim} must be divisible by num_heads={num_heads}")
    ctx = AttentionContext(
        num_heads=num_heads, head_dim=qkv_dim // num_heads, max_len=max_len,
        causal=causal, attention_dropout=attention_dropout,
    )
    if causal and not spec.cls.causal_supported:
        raise LraError(f"model {name!r} has no causal mode")
    return MultiHeadAttention(dim, qkv_dim, spec.cls(opts, ctx))
