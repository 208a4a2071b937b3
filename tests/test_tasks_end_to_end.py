"""`lra train --preset tiny` on every task, on small data in each official format made here."""

import pickle
import tarfile

import numpy as np
import pytest

from lra.data import pathfinder
from lra.data.tasks import get_task, prepare_task, task_names
from lra.presets import resolve_config
from lra.train import train

SHORT = ["train.steps=4", "train.eval_every=2", "train.checkpoint_every=2", "train.batch_size=4",
         "train.eval_batch_size=8", "model.num_layers=1", "train.threads=1"]


def make_text(root):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / "src" / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(6):
                words = rng.choice(["good", "bad", "film", "plot", "é"], size=30)
                (folder / f"{i}_{i % 10}.txt").write_text(" ".join(words))
    return prepare_task("text", root / "src", root / "text")


def make_retrieval(root):
    rng = np.random.default_rng(1)
    folder = root / "src" / "lra_release" / "tsv_data"
    folder.mkdir(parents=True)
    for split in ("train", "eval", "test"):
        lines = [f"{i % 2}.0\ta{i}\tb{i}\t{'x' * int(rng.integers(5, 90))}\t{'y z ' * int(rng.integers(2, 40))}"
                 for i in range(12)]
        (folder / f"new_aan_pairs.{split}.tsv").write_text("\n".join(lines) + "\n")
    return prepare_task("retrieval", root / "src", root / "aan")


def make_image(root):
    rng = np.random.default_rng(2)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            path = root / name
            path.write_bytes(pickle.dumps({b"data": rng.integers(0, 256, (8, 3072), dtype=np.uint8),
                                           b"labels": rng.integers(0, 10, 8).tolist()}))
            tar.add(path, arcname=f"cifar-10-batches-py/{name}")
    return prepare_task("image", archive, root / "img")


def make_pathfinder(root, resolution):
    pathfinder.generate(root / "pf", resolution, "hard", n=40, seed=0, workers=1, batch_size=20, progress=False)
    return root / "pf"


def make_data(task, root, listops_dir):
    if task == "listops":
        return listops_dir
    if task.startswith("path"):
        return make_pathfinder(root, int(get_task(task).max_length ** 0.5))
    return {"text": make_text, "retrieval": make_retrieval, "image": make_image}[task](root)


TASKS = [t for t in task_names() if t not in ("pathfinder256", "pathfinder64")]


@pytest.mark.parametrize("task", TASKS)
def test_tiny_preset_trains_on_every_task(task, tmp_path, listops_dir):
    model = "linear" if task == "pathx" else "transformer"  # quadratic attention at 16K tokens: see the slow test
    data_dir = make_data(task, tmp_path, listops_dir)
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
