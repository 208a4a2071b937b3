"""The attention zoo. Importing this package imports every module in it, which registers each mechanism
(one module per mechanism; adding a file is all it takes)."""

import importlib
import pkgutil

from lra.attention.base import AttentionContext, AttentionCore, MultiHeadAttention, SequenceEncoder, SequenceMixer
from lra.attention.reference import reference_attention
from lra.attention.registry import (
    MechanismSpec,
    build_mixer,
    get_spec,
    make_options,
    mechanism_names,
    oracle_name,
    register_attention,
    register_encoder,
    register_mixer,
    speed_baselines,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# Installed packages add mechanisms through the `lra.mixers` entry points; one that fails is recorded, not raised.
from lra.attention.plugins import broken_plugins, load_entry_points  # noqa: E402

load_entry_points()

__all__ = [
    "AttentionContext",
    "AttentionCore",
    "MechanismSpec",
    "MultiHeadAttention",
    "SequenceEncoder",
    "SequenceMixer",
    "broken_plugins",
    "build_mixer",
    "get_spec",
    "make_options",
    "mechanism_names",
    "oracle_name",
    "reference_attention",
    "register_attention",
    "register_encoder",
    "register_mixer",
    "speed_baselines",
]
