"""Presets: one flat file per (preset, task), named `<preset>_<task>.py`.

Each file holds `BASE`, a dict of `section.key: value` overrides on the dataclass defaults of
lra/config.py, and `MODELS`, per-mechanism overrides on top of BASE. No inheritance between files:
what a preset sets is what you read in its file.
"""

from __future__ import annotations

import importlib
import pkgutil

from lra.attention import get_spec
from lra.config import RunConfig, apply_overrides, set_value, validate
from lra.data.tasks import get_task
from lra.errors import LraError


def preset_names() -> list[str]:
    names = {m.name.split("_", 1)[0] for m in pkgutil.iter_modules(__path__) if "_" in m.name}
    return sorted(names)


def preset_tasks(preset: str) -> list[str]:
    """The tasks that `preset` has a file for (`tiny` has no pathfinder64/256, for instance)."""
    if preset not in preset_names():
        raise LraError(f"unknown preset {preset!r}; available: {', '.join(preset_names())}")
    prefix = f"{preset}_"
    return sorted(m.name[len(prefix):] for m in pkgutil.iter_modules(__path__) if m.name.startswith(prefix))


def _preset_module(preset: str, task: str):
    try:
        return importlib.import_module(f"lra.presets.{preset}_{task}")
    except ModuleNotFoundError:
        if preset not in preset_names():
            raise LraError(f"unknown preset {preset!r}; available: {', '.join(preset_names())}") from None
        raise LraError(f"preset {preset!r} has no configuration for task {task!r}") from None


def resolve_config(task: str, model: str, preset: str = "paper", overrides: list[str] | None = None) -> RunConfig:
    """Defaults, then the preset's BASE, then its MODELS[model], then the user's overrides."""
    get_task(task)
    get_spec(model)
    module = _preset_module(preset, task)
    config = RunConfig(task=task, preset=preset)
    config.model.attention = model
    source = f"preset {preset}_{task}"
    for key, value in {**module.BASE, **module.MODELS.get(model, {})}.items():
        set_value(config, key, value, source=source, from_text=False)
    apply_overrides(config, overrides or [])
    validate(config, source=f"{source} with --set overrides" if overrides else source)
    return config
