"""Shared fixtures: small generated ListOps and Pathfinder data, a fast training config, a finished run.

Helpers that tests import by name (FAST, one_line_error, train_argv, ...) are in tests/helpers.py.
"""

from pathlib import Path

import pytest

from lra.data import pathfinder
from lra.presets import resolve_config
from lra.trainer import train
from tests.helpers import FAST, write_small_listops


@pytest.fixture(scope="session")
def listops_dir(tmp_path_factory) -> Path:
    return write_small_listops(tmp_path_factory.mktemp("listops"), n_train=120, n_val=40, n_test=40, seed=3)


@pytest.fixture(scope="session")
def pathfinder_dir(tmp_path_factory) -> Path:
    """40 generated pathfinder32 'hard' images in the official layout (two metadata batches of 20). Read it
    only; copy it (tests.helpers.copy_pathfinder) to damage it."""
    out = tmp_path_factory.mktemp("pathfinder")
    pathfinder.generate(out, 32, "hard", n=40, seed=0, workers=1, batch_size=20, progress=False)
    return out


@pytest.fixture
def fast_overrides(listops_dir):
    """FAST on the shared ListOps data, then any further key=value items."""

    def make(*extra: str) -> list[str]:
        return [*FAST, f"data.data_dir={listops_dir}", *extra]

    return make


@pytest.fixture
def fast_config(fast_overrides):
    def make(*extra: str, model: str = "transformer"):
        return resolve_config("listops", model, "tiny", fast_overrides(*extra))

    return make


@pytest.fixture
def finished_run(fast_config, tmp_path) -> Path:
    """A run directory of 4 training steps on the shared ListOps data (tmp_path / 'finished')."""
    run = tmp_path / "finished"
    train(fast_config("train.steps=4"), run, progress=False)
    return run
