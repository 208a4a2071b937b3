"""Reading official archives and folders: find members by path suffix, extract atomically.

A `source` is either an archive (tar, tar.gz, or the LRA release's .gz tarball) or an unpacked folder;
members are matched by the end of their path, so the nesting of a release (lra_release/lra_release/...)
does not matter.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from lra.errors import LraError


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise LraError(f"{path}: not a readable tar archive ({error}); re-download it") from None


def find_members(source: Path, wanted: Callable[[str], str | None]) -> dict[str, str]:
    """Map target name -> member path for every member whose path `wanted` names (folder or archive)."""
    found: dict[str, str] = {}
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                name = wanted(path.relative_to(source).as_posix())
                if name is not None and name not in found:
                    found[name] = str(path)
        return found
    if not source.exists():
        raise LraError(f"{source} does not exist")
    with _open_tar(source) as tar:
        try:
            for member in tar:
                if member.isfile():
                    name = wanted(member.name)
                    if name is not None and name not in found:
                        found[name] = member.name
        except (tarfile.TarError, OSError, EOFError) as error:
            raise LraError(f"{source}: the archive is truncated or corrupt ({error}); re-download it") from None
    return found


def extract(source: Path, members: dict[str, str], target: Path) -> None:
    """Copy or extract members (name -> member path) into target/name, atomically as a whole folder."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        if source.is_dir():
            for name, path in members.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, tmp / name)
        else:
            by_member = {member: name for name, member in members.items()}
            with _open_tar(source) as tar:
                try:
                    for member in tar:
                        name = by_member.get(member.name)
                        if name is None or not member.isfile():
                            continue
                        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                        with tar.extractfile(member) as src, open(tmp / name, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                except (tarfile.TarError, OSError, EOFError) as error:
                    raise LraError(f"{source}: the archive is truncated or corrupt ({error}); re-download it") \
                        from None
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
