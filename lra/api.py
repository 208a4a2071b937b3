"""The Python API: what the `lra` command does, as functions (the CLI calls the same code).

    import lra
    results = lra.train(task="listops", model="my_pkg.mixers:MyMixer", preset="tiny",
                        overrides={"train.steps": 200}, out="runs/mine")
    lra.evaluate("runs/mine")                      # test accuracy of the last parameters
    lra.check("my_pkg.mixers:MyMixer")             # the battery's properties, as CheckResult rows

Mixers are registered with `lra.register_mixer` / `lra.register_attention` (decorators), named as
`module.path:Class`, or installed through the `lra.mixers` entry-point group (README, "Add your model").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lra.errors import LraError


def _override_list(overrides: Mapping[str, Any] | list[str] | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        # JSON spells values the way --set parses them (true, 0.001, "text", {"block_size": 64}).
        return [f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(overrides, list) and all(isinstance(item, str) for item in overrides):
        return list(overrides)
    raise LraError(f"overrides={overrides!r}: expected a dict of key -> value or a list of 'key=value' strings")


def train(task: str, model: str = "transformer", preset: str = "tiny",
          overrides: Mapping[str, Any] | list[str] | None = None, out: str | Path | None = None,
          resume: bool = False, progress: bool = False) -> dict:
    """Train `model` on `task` under `preset` (with `overrides`, keys as in `--set`) into `out`; returns the
    results record (results.json). `lra train --task T --model M --preset P --set K=V --out OUT`."""
    from lra.presets import resolve_config
    from lra.trainer import train as train_run

    config = resolve_config(task, model, preset, _override_list(overrides))
    run_dir = Path(out or f"runs/{task}-{config.model_name}-{preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    return train_run(config, run_dir, resume=resume, progress=progress)


def evaluate(run_dir: str | Path, split: str = "test", checkpoint: str = "last") -> dict:
    """Re-evaluate a run directory (`lra eval RUN`): {"accuracy", "loss", "examples", "step", ...}."""
    from lra.trainer import evaluate_run

    return evaluate_run(run_dir, split=split, checkpoint=checkpoint)


def check(model: str, options: Mapping[str, Any] | None = None) -> list:
    """The battery's properties on `model` (`lra check MODEL`): a list of CheckResult(name, status, detail)."""
    from lra.checks import run_checks

    return run_checks(model, dict(options or {}))


def models() -> list[str]:
    """Registered mechanism names (the zoo and installed plugins), as `lra models` lists them."""
    from lra.attention import mechanism_names

    return mechanism_names()
