"""Every file `lra` writes or reads back goes through here: writes are atomic, reads never run code.

- `atomic_write` / `atomic_write_text` / `atomic_write_json`: a temporary file beside the target, fsync,
  rename over the target (a reader sees the old file or the new one, never half of one); a killed writer
  leaves at most a hidden `.NAME.tmp-*` file, which `clean_stale_temps` removes.
- `replace_dir`: swap a fully built folder in for an old one without ever exposing a mix of the two.
- `read_json` and `load_torch`: a missing, truncated or foreign file becomes one `LraError` line naming
  the file; `load_torch` uses `weights_only=True`, so a crafted checkpoint cannot run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lra.errors import LraError

TEMP_MARK = ".tmp-"


def _temp_name(path: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARK}")
    os.close(fd)
    return Path(name)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any], mode: int = 0o644) -> None:
    """Call write(file) on a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_name(path)
    except OSError as error:
        raise LraError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; results and data are meant to be shared
        os.replace(tmp, path)
    except OSError as error:
        raise LraError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2) + "\n")


def read_json(path: str | Path, what: str = "a JSON file", expect: type | None = dict) -> Any:
    """Parse `path` as JSON; missing, unreadable, malformed or (with `expect`) wrongly shaped is an LraError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LraError(f"{path}: missing (expected {what})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LraError(f"{path}: cannot read {what} ({error})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LraError(f"{path}: not valid JSON ({error}); expected {what}") from None
    if expect is not None and not isinstance(value, expect):
        raise LraError(f"{path}: expected {what} holding a JSON {_json_kind(expect)}, "
                       f"found a {type(value).__name__}")
    return value


def read_jsonl(path: str | Path) -> list[dict]:
    """The JSON objects of a JSON-lines file, in order. A line that does not parse (torn by a kill in
    mid-write) or holds no object is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _json_kind(kind: type) -> str:
    return {dict: "object", list: "array"}.get(kind, kind.__name__)


def load_torch(path: str | Path) -> Any:
    """torch.load restricted to tensors and plain containers (weights_only=True): a pickle that would
    run code is refused. A truncated or foreign file is one LraError line naming it."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise LraError(f"{path}: missing (expected a checkpoint)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure of a foreign file is the user's to fix
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LraError(f"cannot read checkpoint {path}: {first_line}") from None


def clean_stale_temps(folder: str | Path) -> None:
    """Remove what killed writers left in `folder`: hidden `.NAME.tmp-*` files and folders."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(".") and TEMP_MARK in entry.name:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def temp_dir_for(target: str | Path) -> Path:
    """A new empty hidden folder beside `target`, to build a replacement in (see `replace_dir`)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{TEMP_MARK}"))
    except OSError as error:
        raise LraError(f"cannot write in {target.parent}: {error.strerror or error}") from None


def replace_dir(built: str | Path, target: str | Path) -> None:
    """Put the finished folder `built` (from `temp_dir_for(target)`) at `target`.

    The old `target` is first renamed to a hidden temp name, then `built` renamed in, then the old copy
    removed: at every instant `target` is the complete old folder, absent, or the complete new one. A
    kill in the short gap leaves `target` absent (loading then says the data is missing, it never sees a
    mix) and the hidden copies are removed by `clean_stale_temps` on the next write.
    """
    built, target = Path(built), Path(target)
    old: Path | None = None
    try:
        if target.exists() or target.is_symlink():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{TEMP_MARK}old-"))
            os.rmdir(old)
            os.replace(target, old)
        os.replace(built, target)
    except OSError as error:
        raise LraError(f"cannot replace {target}: {error.strerror or error}") from None
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                old.unlink()
