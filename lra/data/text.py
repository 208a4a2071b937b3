"""IMDb reviews as bytes (LRA's text task).

Source: `aclImdb_v1.tar.gz` or its unpacked `aclImdb/` folder ({train,test}/{pos,neg}/*.txt; `unsup` is
ignored). Tokens are UTF-8 bytes + 1 (vocabulary 257, pad 0), cut to max_length (4000 by default, the
paper's setup). IMDb has no validation split: as in LRA, "val" is the test set.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lra.data.archive import extract_folder, find_members
from lra.data.cache import ContentHash, cached_arrays
from lra.errors import LraError

FOLDER = "aclImdb"
SPLIT_DIRS = {"train": "train", "val": "test", "test": "test"}
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/([^/]+\.txt)$")


def byte_tokens(texts: list[bytes], max_length: int) -> np.ndarray:
    """(N, max_length) int16: byte + 1, right-padded with 0."""
    out = np.zeros((len(texts), max_length), dtype=np.int16)
    for i, raw in enumerate(texts):
        row = np.frombuffer(raw[:max_length], dtype=np.uint8)
        out[i, : len(row)] = row.astype(np.int16) + 1
    return out


def prepare(source: Path, data_dir: Path, progress: bool = False) -> Path:
    members = find_members(Path(source), lambda p: "/".join(m.groups()) if (m := _MEMBER.search(p)) else None)
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            if not any(name.startswith(f"{split}/{label}/") for name in members):
                raise LraError(f"{source}: no {FOLDER}/{split}/{label}/*.txt files; expected aclImdb_v1.tar.gz or "
                               f"its unpacked {FOLDER}/ folder")
    extract_folder(Path(source), members, Path(data_dir) / FOLDER, "lra data prepare text")
    return Path(data_dir)


def load_split(data_dir: Path, split: str, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    root = Path(data_dir) / FOLDER / SPLIT_DIRS[split]
    folders = [root / "neg", root / "pos"]
    for folder in folders:
        if not folder.is_dir():
            raise LraError(f"{folder} is missing; get IMDb with `lra data download text` or "
                           f"`lra data prepare text --source aclImdb_v1.tar.gz`")
    # Every review is read once: its bytes are hashed for the cache key as they are read (an edit in place
    # shows whatever the file's dates say), and tokenised from memory when the cache has no entry.
    texts, labels, digest = [], [], ContentHash()
    for label, folder in enumerate(folders):  # 0 = neg, 1 = pos
        for path in sorted(folder.glob("*.txt")):
            try:
                raw = path.read_bytes()
            except OSError as error:
                raise LraError(f"{path}: cannot read ({error.strerror or error})") from None
            digest.add(f"{label}/{path.name}", raw)
            texts.append(raw)
            labels.append(label)

    def build() -> dict[str, np.ndarray]:
        return {"tokens": byte_tokens(texts, max_length), "labels": np.array(labels, dtype=np.int64)}

    arrays = cached_arrays(Path(data_dir) / ".cache", f"text-{SPLIT_DIRS[split]}", {"max_length": max_length},
                           [], build, content=digest.hexdigest(), keys=("tokens", "labels"))
    return arrays["tokens"], arrays["labels"]
