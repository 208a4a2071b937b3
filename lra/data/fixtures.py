"""Small synthetic stand-ins for the downloaded datasets, written in their official raw formats.

They let the whole pipeline (prepare, cache, train, report) run where IMDb, CIFAR-10 and the LRA release
cannot be downloaded: the tests use them, and so does a CPU suite over all tasks. Each carries a simple
learnable signal, so a model that trains at all scores above chance, but they are not the benchmark.

- IMDb (`aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`): reviews of random words in which positive
  ones use "good" more often and negative ones "bad".
- AAN (`lra_release/tsv_data/new_aan_pairs.{train,eval,test}.tsv`: label, id1, id2, text1, text2): pairs
  labelled 1 share a topic word repeated through both documents.
- CIFAR-10 (`cifar-10-python.tar.gz` with pickled `data_batch_1..5` and `test_batch`): noise images whose
  class sets the brightness of a horizontal band.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

WORDS = ["film", "plot", "actor", "scene", "story", "music", "é", "the", "a", "of", "and", "it", "was"]


def write_imdb(root: str | Path, per_class: int = 6, words: int = 30, seed: int = 0) -> Path:
    """An `aclImdb` folder under root; returns root (what `lra data prepare text --source` takes)."""
    rng, root = np.random.default_rng(seed), Path(root)
    for split in ("train", "test"):
        for label, (cue, rating) in {"pos": ("good", 9), "neg": ("bad", 2)}.items():
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                text = rng.choice(WORDS + [cue] * 3, size=words)
                (folder / f"{i}_{rating}.txt").write_text(" ".join(text), encoding="utf-8")
    return root


def write_aan(root: str | Path, rows: int = 12, seed: int = 1, max_words: int = 60) -> Path:
    """An `lra_release/tsv_data` folder of AAN pair TSVs under root; returns root."""
    rng, root = np.random.default_rng(seed), Path(root)
    folder = root / "lra_release" / "tsv_data"
    folder.mkdir(parents=True, exist_ok=True)
    topics = ["graph", "parser", "speech", "vision", "corpus", "lexicon", "semantic", "neural"]

    def document(topic: str) -> str:
        n = int(rng.integers(5, max_words))
        words = rng.choice(WORDS + [topic] * 4, size=n)
        return " ".join(words)

    for split in ("train", "eval", "test"):
        lines = []
        for i in range(rows):
            label = i % 2
            first = rng.choice(topics)
            second = first if label else rng.choice([t for t in topics if t != first])
            lines.append(f"{label}.0\tdoc{i}a\tdoc{i}b\t{document(first)}\t{document(second)}")
        (folder / f"new_aan_pairs.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_cifar(root: str | Path, per_batch: int = 8, seed: int = 2) -> Path:
    """A `cifar-10-python.tar.gz` under root; returns the archive's path."""
    rng, root = np.random.default_rng(seed), Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = rng.integers(0, 10, per_batch)
            images = rng.integers(0, 128, (per_batch, 3, 32, 32), dtype=np.uint8)
            for image, label in zip(images, labels):
                image[:, 3 * label:3 * label + 3, :] += 120  # the class is the row of a bright band
            blob = pickle.dumps({b"data": images.reshape(per_batch, 3072), b"labels": labels.tolist()})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return archive
