"""Processed arrays on disk, keyed by everything that shaped them.

An entry's name is `<name>-<params hash>-<content hash>.npz`. The content hash covers the raw bytes of
every source file (blake2b, read once; a caller that reads the files anyway hashes them as it reads, see
`ContentHash`) and, for sets too large to read twice (Pathfinder's images), a manifest of each file's
name, size, mtime, ctime and inode: ctime cannot be set back by the user, so an edit in place always
shows. Editing a raw file or changing a parameter thus makes a new entry instead of serving stale data;
when it is written, older entries for the same parameters are removed.
Entries are written atomically (safe_io); an unreadable entry is removed and rebuilt, and a data
directory that cannot be written (a shared read-only copy) is read without a cache.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lra.errors import LraError
from lra.safe_io import atomic_write, clean_stale_temps

WARN_BYTES = 1 << 30  # a cache entry larger than this is announced with its size


class ContentHash:
    """Incremental blake2b over (name, bytes) records; `hexdigest()` keys a cache entry."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)

    def add(self, name: str, data: bytes) -> None:
        self._hash.update(f"{name}\0{len(data)}\0".encode())
        self._hash.update(data)

    def add_file(self, path: Path, name: str | None = None) -> None:
        size = path.stat().st_size
        self._hash.update(f"{name or path.name}\0{size}\0".encode())
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                self._hash.update(block)

    def add_stats(self, paths: Iterable[Path]) -> None:
        for path in paths:
            st = path.stat()
            self._hash.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def content_key(sources: Iterable[Path]) -> str:
    """The content hash of files read in full."""
    digest = ContentHash()
    for path in sources:
        try:
            digest.add_file(path, str(path))
        except OSError as error:
            raise LraError(f"{path}: cannot read ({error.strerror or error})") from None
    return digest.hexdigest()


def params_key(params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()


def _note(message: str) -> None:
    print(f"lra: note: {message}", file=sys.stderr)


def _load(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except Exception as error:  # noqa: BLE001 - any damage to our own cache means: build it again
        _note(f"{path}: unreadable cache entry ({type(error).__name__}: {error}); rebuilding it")
        return None
    missing = [k for k in keys if k not in arrays]
    if missing:
        _note(f"{path}: cache entry lacks {', '.join(missing)}; rebuilding it")
        return None
    return arrays


def cached_arrays(
    cache_dir: Path, name: str, params: dict[str, Any], sources: list[Path],
    build: Callable[[], dict[str, np.ndarray]], *, content: str | None = None,
    keys: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """The arrays `build()` makes, from the cache when an entry for these params and contents exists.

    `content` is a content hash the caller computed (see `ContentHash`); otherwise every file of
    `sources` is hashed in full. `keys` are the arrays an entry must hold to be used.
    """
    cache_dir = Path(cache_dir)
    stem = f"{name}-{params_key(params)}"
    path = cache_dir / f"{stem}-{content or content_key(sources)}.npz"
    if path.is_file():
        arrays = _load(path, keys)
        if arrays is not None:
            return arrays
    arrays = build()
    size = sum(a.nbytes for a in arrays.values())
    if size > WARN_BYTES:
        _note(f"writing a {size / 1e9:.1f} GB cache of {name} to {path}")
    try:
        clean_stale_temps(cache_dir)
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except LraError as error:  # e.g. a read-only data directory: the arrays are still good to use
        _note(f"{error}; continuing without a cache")
        return arrays
    for old in cache_dir.glob(f"{stem}-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
    return arrays
