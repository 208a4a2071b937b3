"""Mechanisms from outside the package: `module.path:Attr` model names and the `lra.mixers` entry points.

What a name may point at, and how it is built (the same shapes as the zoo's own mechanisms):
- a class registered with `lra.register_mixer` / `lra.register_attention`: used as registered;
- a SequenceMixer or AttentionCore subclass with an `Options` dataclass: registered as the zoo registers its
  own, `cls(options, dim=, max_len=, causal=)` for a mixer, `cls(options, ctx)` for a core;
- a SequenceEncoder subclass with an `Options` dataclass: a whole encoder, `cls(options, config, vocab_size,
  max_len)`, in place of lra's embeddings and blocks (lra.model.PluggedEncoder);
- any other callable (a class without `Options`, or a factory function): called as
  `factory(dim=..., max_len=..., causal=..., **options)` and must return an nn.Module mapping (x (B, L, D),
  mask (B, L) or None) to (B, L, D). Its options are its other keyword parameters, with their defaults.
Capabilities (`causal`, `length_dependent`, and for a core `exposes_weights`, which `lra span` needs) are read
from attributes of the object, False when absent.

An entry point that fails to load is recorded with a one-line reason (`broken_plugins`); it never stops the
zoo or the other plugins from loading.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any

from torch import Tensor, nn

from lra.attention import registry
from lra.attention.base import AttentionCore, SequenceEncoder, SequenceMixer
from lra.errors import LraError

ENTRY_POINT_GROUP = "lra.mixers"
RESERVED_PARAMETERS = ("dim", "max_len", "causal")
_BROKEN: dict[str, str] = {}


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def import_object(path: str) -> Any:
    """`package.module:attribute` (dots after the colon walk attributes) -> the object; one LraError line."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise LraError(f"model {path!r}: expected module.path:Attribute")
    try:
        obj = importlib.import_module(module_name)
    except Exception as error:  # a plugin's own import error is reported, never raised through
        raise LraError(f"model {path!r}: cannot import {module_name!r}: {_one_line(error)}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise LraError(f"model {path!r}: module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj


def _capabilities(obj: Any) -> dict[str, bool]:
    return {flag: bool(getattr(obj, flag, False)) for flag in ("causal", "length_dependent")}


def _summary(obj: Any, source: str) -> str:
    doc = inspect.getdoc(obj) or ""
    return (doc.splitlines()[0] if doc else "plugin") + f" [{source}]"


def _factory_options(name: str, factory: Any) -> type:
    """A frozen dataclass of the factory's keyword parameters (dim, max_len and causal aside), whose values
    are checked against the type of each default, as the zoo's options dataclasses check theirs."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        parameters = []
    fields, defaults = [], {}
    for p in parameters:
        if p.name in RESERVED_PARAMETERS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise LraError(f"model {name!r}: parameter {p.name!r} of {factory!r} needs a default (it becomes an "
                           "option of model.attention_options)")
        fields.append((p.name, type(p.default) if p.default is not None else Any, dataclasses.field(default=p.default)))
        defaults[p.name] = p.default

    def __post_init__(self) -> None:
        for key, default in defaults.items():
            value = getattr(self, key)
            if default is None or value is None:
                continue
            expected = float if isinstance(default, float) else type(default)
            ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise LraError(f"model {name!r}: option {key}={value!r}: expected {expected.__name__}")

    return dataclasses.make_dataclass(f"{getattr(factory, '__name__', 'Plugin')}Options", fields, frozen=True,
                                      namespace={"__post_init__": __post_init__})


def _factory_mixer(factory: Any) -> type:
    accepts = inspect.signature(factory).parameters if callable(factory) else {}
    takes_all = any(p.kind == p.VAR_KEYWORD for p in accepts.values())

    class FactoryMixer(SequenceMixer):
        """A plugin module built by its factory, behind the SequenceMixer interface."""

        def __init__(self, options: Any, dim: int, max_len: int, causal: bool = False) -> None:
            super().__init__()
            given = {"dim": dim, "max_len": max_len, "causal": causal}
            kwargs = {k: v for k, v in given.items() if takes_all or k in accepts}
            if causal and "causal" not in kwargs:
                raise LraError(f"{factory!r} takes no `causal` argument, so it has no causal mode")
            self.inner = factory(**kwargs, **dataclasses.asdict(options))
            if not isinstance(self.inner, nn.Module):
                raise LraError(f"{factory!r} returned {type(self.inner).__name__}, expected an nn.Module")

        def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
            return self.inner(x, mask)

    FactoryMixer.__name__ = FactoryMixer.__qualname__ = f"{getattr(factory, '__name__', 'Plugin')}Mixer"
    return FactoryMixer


def adopt(name: str, obj: Any, source: str) -> registry.MechanismSpec:
    """Register `obj` under `name` (see the module docstring for what `obj` may be) and return its entry."""
    spec = getattr(obj, "spec", None)
    if isinstance(spec, registry.MechanismSpec) and registry.is_registered(spec.name):
        return spec if spec.name == name else registry.alias(name, spec)
    options_cls = getattr(obj, "Options", None)
    kwargs = dict(summary=_summary(obj, source), **_capabilities(obj))
    if inspect.isclass(obj) and dataclasses.is_dataclass(options_cls):
        if issubclass(obj, AttentionCore):
            return registry.register_attention(name, options_cls, exposes_weights=bool(getattr(
                obj, "exposes_weights", False)), **kwargs)(obj).spec
        if issubclass(obj, SequenceMixer):
            return registry.register_mixer(name, options_cls, **kwargs)(obj).spec
        if issubclass(obj, SequenceEncoder):
            kwargs.pop("causal")
            return registry.register_encoder(name, options_cls, **kwargs)(obj).spec
    if not callable(obj):
        raise LraError(f"model {name!r}: {source} is a {type(obj).__name__}, not a mixer class or factory")
    options_cls = _factory_options(name, obj)
    mixer = _factory_mixer(obj)
    registry.register_mixer(name, options_cls, **kwargs)(mixer)
    return registry.get_spec(name)


def resolve(name: str) -> registry.MechanismSpec:
    """The entry for an importable `module.path:Attr` name, registered under that name on first use."""
    if name in _BROKEN:
        raise LraError(f"model {name!r} is a plugin that failed to load: {_BROKEN[name]}")
    return adopt(name, import_object(name), name)


def load_entry_points() -> None:
    """Register every `lra.mixers` entry point; record (never raise) the ones that fail."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if registry.is_registered(point.name) or point.name in _BROKEN:
            continue
        try:
            adopt(point.name, point.load(), f"{point.value}")
        except Exception as error:  # one broken plugin must not take the others, or `lra models`, down
            _BROKEN[point.name] = f"{point.value}: {_one_line(error)}"


def broken_plugins() -> dict[str, str]:
    """Entry-point name -> one line saying why it did not load."""
    return dict(_BROKEN)
