"""ACL Anthology Network document pairs as bytes (LRA's retrieval task), read by two towers.

Source files `new_aan_pairs.{train,eval,test}.tsv` (in the LRA release under lra_release/tsv_data/): no
header, five tab-separated fields `label, id1, id2, text1, text2`, quotes are not delimiters, the label is
a float 0/1. Each text keeps its first 10,000 bytes, then max_length (4000) byte tokens (+1, pad 0).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lra.data.archive import check_set, extract_files, find_members
from lra.data.cache import cached_arrays
from lra.data.text import byte_tokens
from lra.errors import LraError

FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}
FIRST_BYTES = 10_000
SET_NAME = "retrieval"  # the manifest of prepared files: .lra-retrieval.json
_MEMBER = re.compile(r"(?:^|/)(new_aan_pairs\.(?:train|eval|test)\.tsv)$")


def prepare(source: Path, data_dir: Path, progress: bool = False) -> Path:
    members = find_members(Path(source), lambda p: m.group(1) if (m := _MEMBER.search(p)) else None)
    missing = sorted(set(FILES.values()) - set(members))
    if missing:
        raise LraError(f"{source}: {', '.join(missing)} not found; expected the LRA release (lra_release.gz) or "
                       f"a folder holding its tsv_data/")
    extract_files(Path(source), members, Path(data_dir), SET_NAME, "lra data prepare retrieval",
                  f"lra data prepare retrieval --source {source} --data-dir {data_dir}")
    return Path(data_dir)


def read_pairs(path: Path) -> tuple[list[bytes], list[bytes], list[int]]:
    firsts, seconds, labels = [], [], []
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            fields = line.split(b"\t")
            if len(fields) != 5:
                raise LraError(f"{path}, line {number}: expected 5 tab-separated fields (label, id1, id2, text1, "
                               f"text2), found {len(fields)}")
            try:
                label = int(float(fields[0]))
            except ValueError:
                raise LraError(f"{path}, line {number}: label {fields[0][:20]!r} is not a number") from None
            if label not in (0, 1):
                raise LraError(f"{path}, line {number}: label must be 0 or 1, found {label}")
            firsts.append(fields[3][:FIRST_BYTES])
            seconds.append(fields[4][:FIRST_BYTES])
            labels.append(label)
    return firsts, seconds, labels


def load_split(data_dir: Path, split: str, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    path = Path(data_dir) / FILES[split]
    check_set(Path(data_dir), SET_NAME)
    if not path.is_file():
        raise LraError(f"{path} is missing; get the AAN pairs with `lra data download retrieval` or "
                       f"`lra data prepare retrieval --source lra_release.gz`")

    def build() -> dict[str, np.ndarray]:
        firsts, seconds, labels = read_pairs(path)
        tokens = np.stack([byte_tokens(firsts, max_length), byte_tokens(seconds, max_length)], axis=1)
        return {"tokens": tokens, "labels": np.array(labels, dtype=np.int64)}

    arrays = cached_arrays(Path(data_dir) / ".cache", f"retrieval-{split}",
                           {"max_length": max_length, "first_bytes": FIRST_BYTES}, [path], build,
                           keys=("tokens", "labels"))
    return arrays["tokens"], arrays["labels"]
