"""Name -> mechanism. A mechanism is an attention core (wrapped in MultiHeadAttention) or a whole mixer.

Registering is all it takes for a new mechanism to appear in `lra models`, in `--model NAME` and in
every registry-parametrised test.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lra.attention.base import AttentionContext, MultiHeadAttention, SequenceMixer
from lra.errors import LraError


@dataclass(frozen=True)
class MechanismSpec:
    """A registry entry: the one place where a mechanism's capabilities are declared and read.

    Everything outside the mechanism's own file (the trainer, `lra span`, the bench, the CLI, the test
    battery) asks the spec, never the class or the name.
    """

    name: str
    cls: type
    options_cls: type
    # "attention" (a core behind MultiHeadAttention), "mixer" (a SequenceMixer itself) or "encoder" (a whole
    # SequenceEncoder from tokens to features, in place of lra's embeddings and blocks)
    kind: str
    summary: str
    # Small settings under which the generic test battery can run quickly (block sizes that fit L=20...).
    test_options: dict[str, Any] = field(default_factory=dict)
    causal: bool = False  # has a causal (autoregressive) mode
    # The output for real tokens depends on how much trailing padding the input has (blocks, buckets or
    # segments laid over the padded length): the trainer then never trims padding.
    length_dependent: bool = False
    # Forms attention weights, so `attention_dropout` means something; the others refuse a rate above 0.
    has_attention_weights: bool = True
    shared_qk: bool = False  # keys are the (normalised) queries: no key projection (Reformer)
    # Its softmax weights can be written out exactly (dense softmax or a pattern-exact `dense_mask`):
    # what `lra span` needs.
    exposes_weights: bool = False
    oracle: bool = False  # the float64 test oracle: naive attention, also the paper's speed baseline
    baseline: bool = False  # the exact fast baseline of the speed tables (SDPA)

    @property
    def has_heads(self) -> bool:
        """Built behind MultiHeadAttention, so qkv_dim and num_heads apply."""
        return self.kind == "attention"

    def check_context(self, causal: bool, attention_dropout: float) -> None:
        """Refuse a mode this mechanism does not have, as one LraError line."""
        if causal and not self.causal:
            raise LraError(f"model {self.name!r} has no causal mode")
        if attention_dropout > 0 and not self.has_attention_weights:
            raise LraError(f"model {self.name!r} forms no attention weights, so attention_dropout="
                           f"{attention_dropout} would do nothing here (build_mixer passes it 0)")


_REGISTRY: dict[str, MechanismSpec] = {}


def _register(name: str, options_cls: type, kind: str, summary: str, test_options: dict | None,
              capabilities: dict[str, bool]) -> Callable:
    if not dataclasses.is_dataclass(options_cls):
        raise TypeError(f"options of {name!r} must be a dataclass")

    def decorate(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"mechanism {name!r} is registered twice")
        spec = MechanismSpec(name, cls, options_cls, kind, summary, dict(test_options or {}), **capabilities)
        _REGISTRY[name] = spec
        cls.spec = spec  # a core checks its context against its own entry
        return cls

    return decorate


def register_attention(name: str, options_cls: type, *, summary: str, test_options: dict | None = None,
                       causal: bool = False, length_dependent: bool = False, has_attention_weights: bool = True,
                       shared_qk: bool = False, exposes_weights: bool = False, oracle: bool = False,
                       baseline: bool = False):
    """Class decorator for an AttentionCore: `__init__(self, options, ctx: AttentionContext)`. The keyword
    flags declare its capabilities (see MechanismSpec)."""
    return _register(name, options_cls, "attention", summary, test_options, dict(
        causal=causal, length_dependent=length_dependent, has_attention_weights=has_attention_weights,
        shared_qk=shared_qk, exposes_weights=exposes_weights, oracle=oracle, baseline=baseline))


def register_mixer(name: str, options_cls: type, *, summary: str, test_options: dict | None = None,
                   causal: bool = False, length_dependent: bool = False):
    """Class decorator for a SequenceMixer: `__init__(self, options, dim: int, max_len: int, causal: bool)`.
    A mixer forms no attention weights (it has its own dropout option if it needs one)."""
    return _register(name, options_cls, "mixer", summary, test_options, dict(
        causal=causal, length_dependent=length_dependent, has_attention_weights=False))


def register_encoder(name: str, options_cls: type, *, summary: str, test_options: dict | None = None,
                     length_dependent: bool = False):
    """Class decorator for a SequenceEncoder: `__init__(self, options, config: ModelConfig, vocab_size: int,
    max_len: int)`; lra keeps the heads, pooling, two towers and training around it."""
    return _register(name, options_cls, "encoder", summary, test_options, dict(
        length_dependent=length_dependent, has_attention_weights=False))


def mechanism_names() -> list[str]:
    return sorted(_REGISTRY)


def oracle_name() -> str:
    """The registered test oracle (naive attention)."""
    return next(name for name, spec in sorted(_REGISTRY.items()) if spec.oracle)


def speed_baselines() -> list[str]:
    """The speed tables' baselines, in order: naive attention as in the paper, then the exact fast path."""
    return [oracle_name(), *(name for name, spec in sorted(_REGISTRY.items()) if spec.baseline)]


def is_registered(name: str) -> bool:
    return name in _REGISTRY


def alias(name: str, spec: MechanismSpec) -> MechanismSpec:
    """Register an existing mechanism under a second name (an entry point named unlike its decorator)."""
    if name in _REGISTRY:
        raise ValueError(f"mechanism {name!r} is registered twice")
    _REGISTRY[name] = dataclasses.replace(spec, name=name)
    return _REGISTRY[name]


def get_spec(name: str) -> MechanismSpec:
    """The entry for `name`: a registered mechanism, or an importable `module.path:Attr` (lra.attention.plugins)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    from lra.attention import plugins

    if ":" in str(name) or name in plugins.broken_plugins():
        return plugins.resolve(name)
    raise LraError(f"unknown model {name!r}; registered: {', '.join(mechanism_names())} "
                   "(or an importable module.path:Class)")


def renamed_options(name: str, options: dict[str, Any] | None, *, warn: bool = True) -> dict[str, Any]:
    """A copy of `options` with the old names of renamed options (the options dataclass's RENAMED, old ->
    new) replaced by the new ones, with a FutureWarning for each (none with warn=False). Giving an option
    under both names is one LraError line naming both. Other keys pass through untouched."""
    options = dict(options or {})
    for old, new in getattr(get_spec(name).options_cls, "RENAMED", {}).items():
        if old not in options:
            continue
        if new in options:
            raise LraError(f"model {name!r}: option {old}={options[old]!r} is the old name of {new}="
                           f"{options[new]!r}; give {new} only")
        if warn:
            warnings.warn(f"model {name!r} option {old!r} is now called {new!r}; the old name is accepted "
                          "for one release", FutureWarning, stacklevel=3)
        options[new] = options.pop(old)
    return options


def make_options(name: str, options: dict[str, Any] | None = None) -> Any:
    """The mechanism's options dataclass, filled from a dict: old names of renamed options are translated
    (`renamed_options`), unknown keys are rejected by name, and the dataclass checks its values (types,
    ranges, names, options with no effect in the chosen mode) in `__post_init__`. Every problem is one
    LraError line."""
    spec = get_spec(name)
    if options is not None and not isinstance(options, dict):
        raise LraError(f"model {name!r}: options must be a mapping of name to value, got {options!r}")
    options = renamed_options(name, options)
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
    if spec.kind == "encoder":
        raise LraError(f"model {name!r} is a whole encoder, not a mixer: it replaces the encoder (lra.model), "
                       "not a layer's mixer")
    opts = make_options(name, options)
    if not 0.0 <= attention_dropout <= 1.0:
        raise LraError(f"model {name!r}: attention_dropout={attention_dropout!r}: expected a probability in [0, 1]")
    if not spec.has_attention_weights:
        # model.attention_dropout is the rate for mechanisms that form attention weights; the others have
        # none to drop (LRA's linear and Performer configs carry 0.1 that their layers ignore likewise).
        # A core built directly with a rate it cannot apply still refuses it (MechanismSpec.check_context).
        attention_dropout = 0.0
    spec.check_context(causal, attention_dropout)
    if not spec.has_heads:
        return spec.cls(opts, dim=dim, max_len=max_len, causal=causal)
    if qkv_dim % num_heads:
        raise LraError(f"qkv_dim={qkv_dim} must be divisible by num_heads={num_heads}")
    ctx = AttentionContext(
        num_heads=num_heads, head_dim=qkv_dim // num_heads, max_len=max_len,
        causal=causal, attention_dropout=attention_dropout,
    )
    return MultiHeadAttention(dim, qkv_dim, spec.cls(opts, ctx))
