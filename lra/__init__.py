"""lra: the Long Range Arena benchmark and its efficient Transformers, in PyTorch.

The Python API (lra/api.py): `lra.train`, `lra.evaluate`, `lra.check`, `lra.models`, and for your own
mechanisms `lra.register_mixer`, `lra.register_attention`, `lra.register_encoder` (a whole encoder),
`lra.SequenceMixer`, `lra.SequenceEncoder`, `lra.AttentionCore`.
Loaded on first use, so `import lra` stays light (torch is imported only when a function needs it).
"""

from __future__ import annotations

from typing import Any

from lra.api import check, evaluate, models, train

__version__ = "0.1.0"

_FROM_ATTENTION = ("register_mixer", "register_attention", "register_encoder", "SequenceMixer", "SequenceEncoder",
                   "AttentionCore", "AttentionContext")
__all__ = ["check", "evaluate", "models", "train", *_FROM_ATTENTION]


def __getattr__(name: str) -> Any:
    if name in _FROM_ATTENTION:
        import lra.attention

        return getattr(lra.attention, name)
    raise AttributeError(f"module 'lra' has no attribute {name!r}")
