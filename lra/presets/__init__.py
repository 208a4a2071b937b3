"""Presets: one flat file per (preset, task), named `<preset>_<task>.py`.

Each file holds `BASE`, a dict of `section.key: value` overrides on the dataclass defaults of
lra/config.py, holding only the values that differ from them, and `MODELS`, per-mechanism overrides on top
of BASE. Files stand alone, with one exception: released_text.py is paper_text.py's BASE and MODELS with
another `data.max_length`, imported from it. A module here that defines no BASE (dims.py, the helper that
writes a model's five dimensions; the paper's printed numbers in paper_figures.py) is not a preset file,
whatever its name.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from lra.errors import LraError

if TYPE_CHECKING:
    from lra.config import RunConfig


def _preset_files() -> list[tuple[str, str]]:
    """(preset, task) of every `<preset>_<task>.py` here that defines BASE."""
    files = []
    for module in pkgutil.iter_modules(__path__):
        preset, _, task = module.name.partition("_")
        if task and hasattr(importlib.import_module(f"{__name__}.{module.name}"), "BASE"):
            files.append((preset, task))
    return files


def preset_names() -> list[str]:
    return sorted({preset for preset, _ in _preset_files()})


def preset_tasks(preset: str) -> list[str]:
    """The tasks that `preset` has a file for (`tiny` has no pathfinder64/256, for instance)."""
    if preset not in preset_names():
        raise LraError(f"unknown preset {preset!r}; available: {', '.join(preset_names())}")
    return sorted(task for name, task in _preset_files() if name == preset)


def _preset_module(preset: str, task: str):
    if (preset, task) in _preset_files():
        return importlib.import_module(f"{__name__}.{preset}_{task}")
    if preset not in preset_names():
        raise LraError(f"unknown preset {preset!r}; available: {', '.join(preset_names())}")
    raise LraError(f"preset {preset!r} has no configuration for task {task!r}")


def resolve_config(task: str, model: str, preset: str = "paper", overrides: list[str] | None = None) -> RunConfig:
    """Defaults, then the preset's BASE, then its MODELS[model], then the user's overrides."""
    # Imported here, not above, so that reading paper_figures (lra report) does not load torch.
    from lra.attention import get_spec
    from lra.config import RunConfig, apply_overrides, set_value, validate
    from lra.data.tasks import get_task

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
