"""`lra train --preset tiny` on every task, on small data in each official format made here."""

import pytest

from lra.data import fixtures, pathfinder
from lra.data.tasks import get_task, prepare_task, task_names
from lra.presets import resolve_config
from lra.trainer import train

SHORT = ["train.steps=4", "train.eval_every=2", "train.checkpoint_every=2", "train.batch_size=4",
         "train.eval_batch_size=8", "model.num_layers=1", "train.threads=1"]


def make_text(root):
    return prepare_task("text", fixtures.write_imdb(root / "src"), root / "text")


def make_retrieval(root):
    return prepare_task("retrieval", fixtures.write_aan(root / "src"), root / "aan")


def make_image(root):
    return prepare_task("image", fixtures.write_cifar(root), root / "img")


def make_pathfinder(root, resolution):
    pathfinder.generate(root / "pf", resolution, "hard", n=40, seed=0, workers=1, batch_size=20, progress=False)
    return root / "pf"


def make_data(task, root, listops_dir, pathfinder_dir):
    if task == "listops":
        return listops_dir
    if task.startswith("path"):
        resolution = int(get_task(task).max_length ** 0.5)
        return pathfinder_dir if resolution == 32 else make_pathfinder(root, resolution)
    return {"text": make_text, "retrieval": make_retrieval, "image": make_image}[task](root)


TASKS = [t for t in task_names() if t not in ("pathfinder256", "pathfinder64")]


@pytest.mark.parametrize("task", TASKS)
def test_tiny_preset_trains_on_every_task(task, tmp_path, listops_dir, pathfinder_dir):
    model = "linear" if task == "pathx" else "transformer"  # quadratic attention at 16K tokens: see the slow test
    data_dir = make_data(task, tmp_path, listops_dir, pathfinder_dir)
    extra = ["data.max_length=40"] if task == "listops" else []
    config = resolve_config(task, model, "tiny", [f"data.data_dir={data_dir}", *SHORT, *extra])
    results = train(config, tmp_path / "run", progress=False)
    assert results["steps"] == 4 and 0.0 <= results["test_acc"] <= 1.0
    assert results["task"] == task and results["test_examples"] > 0


@pytest.mark.slow
def test_tiny_pathx_with_the_transformer(tmp_path):
    data_dir = make_pathfinder(tmp_path, 128)
    config = resolve_config("pathx", "transformer", "tiny", [f"data.data_dir={data_dir}", *SHORT])
    assert train(config, tmp_path / "run", progress=False)["steps"] == 4
