"""Reading official archives and folders: find members by path suffix, install them without a mix.

A `source` is either an archive (tar, tar.gz, or the LRA release's .gz tarball) or an unpacked folder;
members are matched by the end of their path, so the nesting of a release (lra_release/lra_release/...)
does not matter.

What `prepare` and `generate` write into a data directory, and nothing else:
- a folder of their own (aclImdb/, cifar-10-batches-py/, pathfinder32/...): built in a hidden temp folder
  beside it, marked with `MARK`, then swapped in whole (`safe_io.replace_dir`). A folder without the mark
  is the user's: it is never replaced (unless it already is the source, when there is nothing to do).
- a set of files lying directly in the data directory (ListOps' basic_*.tsv, AAN's new_aan_pairs.*.tsv):
  written beside them first; the set's manifest `.lra-<set>.json` says "writing" while the old files are
  removed and the new ones renamed in, and "complete" after. Files of the set are present old, missing,
  or new: never a mix that looks complete, and a set whose manifest still says "writing" is refused.
Temp folders of a killed run are hidden (`.NAME.tmp-*`): loaders never look at them and the next run of
the same command removes them.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lra.errors import LraError
from lra.safe_io import TEMP_MARK, atomic_write_json, read_json, replace_dir, temp_dir_for

MARK = ".lra-made.json"  # inside a folder that prepare or generate built
ARCHIVE_KINDS = "a tar archive (.tar, .tar.gz, .tgz, or the LRA release's lra_release.gz)"


READ_ERRORS = (tarfile.TarError, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)


class CorruptArchive(LraError):
    """The archive cannot be read to its end: a download that should be fetched again."""


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        if path.stat().st_size == 0:
            raise CorruptArchive(f"{path}: the file is empty; expected {ARCHIVE_KINDS}; re-download it")
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError) as error:
        first = str(error).strip().splitlines()[0].rstrip(":") if str(error).strip() else type(error).__name__
        raise CorruptArchive(f"{path}: not a readable tar archive ({first}); expected {ARCHIVE_KINDS}; "
                             f"re-download it") from None
    except OSError as error:
        raise LraError(f"{path}: cannot read ({error.strerror or error})") from None


def _corrupt(source: Path, error: BaseException) -> CorruptArchive:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return CorruptArchive(f"{source}: the archive is truncated or corrupt ({detail}); re-download it")


def find_members(source: Path, wanted: Callable[[str], str | None]) -> dict[str, str]:
    """Map target name -> member path for every member whose path `wanted` names (folder or archive)."""
    found: dict[str, str] = {}
    if source.is_dir():
        top = source.resolve().name
        for path in sorted(source.rglob("*")):
            if path.is_file() and TEMP_MARK not in path.as_posix():
                # relative to the parent: a source that is itself aclImdb/ or listops-1000/ is matched too
                name = wanted(f"{top}/{path.relative_to(source).as_posix()}")
                if name is not None and name not in found:
                    found[name] = str(path)
        return found
    if not source.exists():
        raise LraError(f"{source} does not exist")
    with _open_tar(source) as tar:
        try:
            files = 0
            for member in tar:
                if member.isfile():
                    files += 1
                    name = wanted(member.name)
                    if name is not None and name not in found:
                        found[name] = member.name
        except READ_ERRORS as error:
            raise _corrupt(source, error) from None
    if files == 0:
        raise CorruptArchive(f"{source}: the archive holds no files; expected {ARCHIVE_KINDS} with the "
                             f"task's files; re-download it")
    return found


def _copy_members(source: Path, members: dict[str, str], into: Path) -> None:
    """Copy (folder) or extract (archive) every member to into/name. A write failure is an OSError
    naming the written file; a read failure of an archive is a CorruptArchive."""
    if source.is_dir():
        for name, path in members.items():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, into / name)
        return
    by_member = {member: name for name, member in members.items()}
    with _open_tar(source) as tar:
        members_left = iter(tar)
        while True:
            try:
                member = next(members_left, None)
                if member is None:
                    break
                name = by_member.get(member.name)
                if name is None or not member.isfile():
                    continue
                src = tar.extractfile(member)
            except READ_ERRORS as error:
                raise _corrupt(source, error) from None
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            with src, open(into / name, "wb") as dst:
                while True:
                    try:
                        block = src.read(1 << 20)
                    except READ_ERRORS as error:
                        raise _corrupt(source, error) from None
                    if not block:
                        break
                    dst.write(block)


def _write_error(where: Path, error: OSError) -> LraError:
    return LraError(f"cannot write {error.filename or where}: {error.strerror or error}")


def clean_temps_of(folder: Path, name: str) -> None:
    """Remove the hidden temp copies (`.NAME.tmp-*`) that killed runs writing `folder/name` left behind."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(f".{name}{TEMP_MARK}"):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def shareable(folder: Path) -> None:
    """Give a folder from `temp_dir_for` (mkdtemp makes 0700) the mode a plain mkdir would have."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def made_by_lra(folder: Path) -> bool:
    return (folder / MARK).is_file()


def _in_place(source: Path, members: dict[str, str], target: Path) -> bool:
    """Whether every member already lies at target/name (the source folder is the target itself)."""
    if not source.is_dir() or not members:
        return False
    return all(Path(path).resolve() == (target / name).resolve() for name, path in members.items())


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def own_folder(target: Path, what: str) -> None:
    """Refuse to replace an existing `target` that lra did not build."""
    if (target.exists() or target.is_symlink()) and not made_by_lra(target):
        raise LraError(f"{target} already exists and was not written by lra ({what} never replaces what it "
                       f"did not write); move it away or choose another directory")


def extract_folder(source: Path, members: dict[str, str], target: Path, what: str,
                   params: dict[str, Any] | None = None) -> Path:
    """Put the members (name -> member path) at target/name as one new folder, swapped in whole."""
    target = Path(os.path.abspath(target))
    if _in_place(source, members, target):
        return target  # the source folder already is the prepared data
    if source.is_dir() and any(_inside(Path(path), target) for path in members.values()):
        raise LraError(f"--source {source} lies inside {target}, which {what} would replace; "
                       f"point --data-dir elsewhere")
    own_folder(target, what)
    clean_temps_of(target.parent, target.name)
    built = temp_dir_for(target)
    try:
        try:
            _copy_members(source, members, built)
        except OSError as error:
            raise _write_error(built, error) from None
        atomic_write_json(built / MARK, {"made_by": what, "source": str(source), "files": len(members),
                                         **(params or {})})
        shareable(built)
        replace_dir(built, target)
    finally:
        if built.exists():
            shutil.rmtree(built, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------------- sets of flat files

def manifest_path(data_dir: Path, set_name: str) -> Path:
    return Path(data_dir) / f".lra-{set_name}.json"


def check_set(data_dir: Path, set_name: str) -> None:
    """Refuse a set of files whose writing was interrupted (its manifest still says "writing").

    A set without a manifest is the user's own or an official release folder, and is accepted.
    """
    path = manifest_path(data_dir, set_name)
    if not path.exists():
        return
    manifest = read_json(path, f"the manifest of the {set_name} files")
    if manifest.get("state") != "complete":
        redo = manifest.get("redo") or f"the command that wrote {data_dir}"
        raise LraError(f"{data_dir}: the {set_name} files are incomplete: writing them was interrupted "
                       f"({path.name} says {manifest.get('state')!r}, expected 'complete'); run `{redo}` again")


def install_files(data_dir: Path, set_name: str, write: Callable[[Path], list[str]], what: str,
                  redo: str, params: dict[str, Any] | None = None) -> list[Path]:
    """Write a set of files into data_dir without ever leaving a mix of two sets that looks complete.

    `write(folder)` creates the files in a hidden temp folder and returns their names. Only those names
    (and the set's manifest) are touched in data_dir; nothing else there is removed.
    """
    data_dir = Path(os.path.abspath(data_dir))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(data_dir, error) from None
    stem = f"lra-{set_name}"
    clean_temps_of(data_dir, stem)
    built = temp_dir_for(data_dir / stem)
    manifest = manifest_path(data_dir, set_name)
    record = {"made_by": what, "redo": redo, **(params or {})}
    try:
        try:
            names = write(built)
        except OSError as error:
            raise _write_error(built, error) from None
        atomic_write_json(manifest, {"state": "writing", **record})
        try:
            for name in names:  # old files go first: a kill now leaves the set visibly incomplete
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(data_dir / name)
            for name in names:
                os.replace(built / name, data_dir / name)
        except OSError as error:
            raise _write_error(data_dir, error) from None
        atomic_write_json(manifest, {"state": "complete", "files": names, **record})
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return [data_dir / name for name in names]


def extract_files(source: Path, members: dict[str, str], data_dir: Path, set_name: str, what: str,
                  redo: str) -> Path:
    """Put the members as a set of files directly in data_dir (see `install_files`)."""
    data_dir = Path(os.path.abspath(data_dir))
    if _in_place(source, members, data_dir):
        return data_dir

    def write(folder: Path) -> list[str]:
        _copy_members(source, members, folder)
        return sorted(members)

    install_files(data_dir, set_name, write, what, redo, {"source": str(source)})
    return data_dir
