"""Processed arrays on disk, keyed by everything that shaped them.

The key hashes the preprocessing parameters and the identity (path, size, mtime) of every raw file,
so editing a raw file or changing a parameter makes a new entry instead of serving stale data.
Entries are written to a temporary file and renamed, so an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def cache_key(params: dict[str, Any], sources: list[Path]) -> str:
    identity = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in sources]
    blob = json.dumps({"params": params, "sources": identity}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Call write(file) on a temp file beside `path`, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def cached_arrays(
    cache_dir: Path, name: str, params: dict[str, Any], sources: list[Path],
    build: Callable[[], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    path = cache_dir / f"{name}-{cache_key(params, sources)}.npz"
    if path.exists():
        with np.load(path) as stored:
            return {k: stored[k] for k in stored.files}
    arrays = build()
    atomic_write_bytes(path, lambda f: np.savez(f, **arrays))
    return arrays
