"""Shared fixtures: small generated ListOps data and a fast training config."""

from pathlib import Path

import pytest

from lra.data import listops
from lra.presets import resolve_config

FAST = [
    "model.num_layers=1", "model.emb_dim=16", "model.qkv_dim=16", "model.mlp_dim=32", "model.num_heads=2",
    "train.batch_size=8", "train.steps=12", "train.eval_every=4", "train.checkpoint_every=3",
    "train.warmup_steps=4", "train.threads=1", "data.max_length=40",
]


@pytest.fixture(scope="session")
def listops_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("listops")
    listops.write_listops(out, n_train=120, n_val=40, n_test=40, seed=3, min_length=4, max_length=40,
                          max_depth=3, max_args=4)
    return out


@pytest.fixture
def fast_config(listops_dir):
    def make(*extra: str, model: str = "transformer"):
        return resolve_config("listops", model, "tiny", [*FAST, f"data.data_dir={listops_dir}", *extra])

    return make
