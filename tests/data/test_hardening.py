"""Probes of the data hardening issue: prepare and generate write only their own entries, swap sets in
whole, mark what they finished, and every mistake is one `lra: error:` line with exit status 2.

Kills are real: a child process SIGKILLs itself at the chosen moment of a write (no `finally` runs).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from lra.cli import main
from lra.config import DataConfig
from lra.data import listops, pathfinder, retrieval, tasks, text
from lra.data.fixtures import write_aan, write_imdb
from lra.errors import LraError
from tests.helpers import (
    FAST,
    REPO,
    copy_pathfinder,
    one_line_error,
    run_python,
    train_argv,
    write_listops_tsv,
    write_small_listops,
)

LISTOPS_SMALL = ["--train", "20", "--val", "6", "--test", "6", "--min-length", "4", "--max-length", "40",
                 "--max-depth", "3", "--max-args", "4", "--quiet"]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below folder (hidden ones included) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def release_listops(root: Path, marker: str = "1") -> Path:
    """A folder in the release layout (lra_release/listops-1000/basic_*.tsv) under root."""
    write_listops_tsv(root / "lra_release" / "listops-1000", f"[MAX {marker} 2 ]\t2\n[MIN 3 {marker} ]\t1\n")
    return root / "lra_release"


# ------------------------------------------------------------------ 1. prepare deletes nothing it did not write

@pytest.mark.parametrize("task", ["listops", "retrieval"])
def test_prepare_keeps_user_files_and_a_source_inside_the_data_dir(task, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    (data / "results").mkdir()
    (data / "results" / "run.json").write_text("{}")
    source = release_listops(data) if task == "listops" else write_aan(data) / "lra_release"
    before = tree(data)
    assert main(["data", "prepare", task, "--source", str(source), "--data-dir", str(data)]) == 0
    after = tree(data)
    assert {k: v for k, v in after.items() if k in before} == before, "user files and the source kept"
    expected = listops.SPLIT_FILES.values() if task == "listops" else retrieval.FILES.values()
    assert all(name in after for name in expected)
    assert set(after) - set(before) == {*expected, f".lra-{task}.json"}, "only its own entries are written"


def test_prepare_into_the_working_directory(tmp_path, monkeypatch):
    source = release_listops(tmp_path / "src")
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    monkeypatch.chdir(work)
    assert main(["data", "prepare", "listops", "--source", str(source), "--data-dir", "."]) == 0
    assert (work / "keep.txt").read_text() == "x" and (work / "basic_val.tsv").is_file()
    config = DataConfig(data_dir=".", max_length=10)
    assert len(tasks.load_split("listops", "train", config)) == 2


def test_prepare_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    source = write_imdb(tmp_path / "src", per_class=2)
    user = tmp_path / "data" / "aclImdb"
    (user / "unsup").mkdir(parents=True)
    (user / "README").write_text("the user's own copy")
    before = tree(tmp_path / "data")
    assert main(["data", "prepare", "text", "--source", str(source), "--data-dir", str(tmp_path / "data")]) == 2
    one_line_error(capsys, str(user), "not written by lra")
    assert tree(tmp_path / "data") == before


def test_prepare_of_a_folder_that_already_is_the_data_changes_nothing(tmp_path):
    data = write_imdb(tmp_path / "data", per_class=2)
    (data / "aclImdb" / "README").write_text("kept")
    before = tree(data)
    assert main(["data", "prepare", "text", "--source", str(data), "--data-dir", str(data)]) == 0
    assert tree(data) == before
    assert len(text.load_split(data, "train", 8)[1]) == 4


# ------------------------------------------------------------------ 2. replacing prepared data: old or new

def test_a_kill_while_replacing_prepared_data_leaves_old_or_new_never_a_mix(tmp_path):
    old, new, data = write_imdb(tmp_path / "old", per_class=6), write_imdb(tmp_path / "new", per_class=3), \
        tmp_path / "data"
    assert main(["data", "prepare", "text", "--source", str(old), "--data-dir", str(data)]) == 0
    assert len(text.load_split(data, "train", 8)[1]) == 12
    child = run_python(f"""
        import os, signal
        from pathlib import Path
        from lra.data import text
        real, removed = os.unlink, []
        def unlink(path, *args, **kwargs):  # die in the middle of removing the old reviews
            if str(path).endswith(".txt"):
                removed.append(path)
                if len(removed) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(path, *args, **kwargs)
        os.unlink = unlink
        text.prepare(Path({str(new)!r}), Path({str(data)!r}))
    """)
    assert child.returncode == -signal.SIGKILL, child.stderr
    try:
        count = len(text.load_split(data, "train", 8)[1])
    except LraError:
        count = None  # absent is acceptable too: loading says so, it never sees a mix
    assert count in (None, 12, 6), f"a mix of {count} reviews loaded as a complete set"
    assert main(["data", "prepare", "text", "--source", str(new), "--data-dir", str(data)]) == 0
    assert len(text.load_split(data, "train", 8)[1]) == 6
    assert sorted(p.name for p in data.iterdir()) == [".cache", "aclImdb"], "temp folders of the kill removed"
    assert (data / "aclImdb").stat().st_mode & 0o777 == 0o777 & ~_umask(), "as readable as a folder made by mkdir"


# ------------------------------------------------------------------ 3. caches keyed on content

def test_text_cache_sees_a_review_edited_in_place(tmp_path):
    data = text.prepare(write_imdb(tmp_path / "src", per_class=3), tmp_path / "data")
    tokens, _ = text.load_split(data, "test", 40)
    review = sorted((data / "aclImdb" / "test" / "neg").glob("*.txt"))[0]
    stat = review.stat()
    raw = review.read_bytes()
    review.write_bytes(raw[::-1])  # same size
    os.utime(review, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mtime restored
    assert review.stat().st_size == stat.st_size and review.stat().st_mtime_ns == stat.st_mtime_ns
    edited, _ = text.load_split(data, "test", 40)
    expected = np.frombuffer(raw[::-1][:40], dtype=np.uint8).astype(np.int16) + 1
    assert edited[0, :len(expected)].tolist() == expected.tolist() != tokens[0, :len(expected)].tolist()
    assert len(list((data / ".cache").glob("text-test-*.npz"))) == 1, "the stale entry is removed"


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b"junk" * 50])
def test_a_corrupt_cache_entry_is_rebuilt(damage, tmp_path, capsys):
    assert main(["data", "generate", "listops", "--out", str(tmp_path), *LISTOPS_SMALL]) == 0
    config = DataConfig(data_dir=str(tmp_path), max_length=40)
    first = tasks.load_split("listops", "val", config)
    (entry,) = (tmp_path / ".cache").glob("listops-val-*.npz")
    entry.write_bytes(damage(entry.read_bytes()))
    again = tasks.load_split("listops", "val", config)
    assert np.array_equal(again.tokens, first.tokens) and np.array_equal(again.labels, first.labels)
    assert "rebuilding it" in capsys.readouterr().err
    assert np.load(entry)["tokens"].shape == tuple(first.tokens.shape), "the entry was written again"


def test_a_cache_in_a_read_only_data_dir_is_skipped(tmp_path, read_only, capsys):
    assert main(["data", "generate", "listops", "--out", str(tmp_path), *LISTOPS_SMALL]) == 0
    read_only(tmp_path)
    split = tasks.load_split("listops", "train", DataConfig(data_dir=str(tmp_path), max_length=40))
    assert len(split) == 20 and "continuing without a cache" in capsys.readouterr().err
    assert not (tmp_path / ".cache").exists()


@pytest.mark.parametrize("task, length, limit", [("text", 200_000, None), ("text", 60_000, "16,000"),
                                                 ("retrieval", 20_000, "10,000"), ("listops", 50_000, "16,000")])
def test_a_huge_max_length_is_refused_before_anything_is_cached(task, length, limit, tmp_path, capsys):
    data = tmp_path / "data"
    if task == "text":
        write_imdb(data, per_class=2)
    elif task == "retrieval":
        retrieval.prepare(write_aan(tmp_path / "src", rows=4), data)
    else:
        write_small_listops(data, n_train=4, n_val=2, n_test=2)
    assert main(train_argv(task, tmp_path / "run", f"data.max_length={length}", data_dir=data)) == 2
    one_line_error(capsys, f"data.max_length={length}", *([limit] if limit else []))
    assert not (data / ".cache").exists() and not (tmp_path / "run").exists()
    if limit:
        with pytest.raises(LraError, match=f"at most {limit} tokens"):
            tasks.load_split(task, "train", DataConfig(data_dir=str(data), max_length=length))


def test_a_max_length_like_1e8_is_a_clear_error(tmp_path, capsys):
    assert main(train_argv("text", tmp_path / "run", "data.max_length=1e8", data_dir=tmp_path)) == 2
    one_line_error(capsys, "data.max_length")
    with pytest.raises(LraError, match="data.max_length=100000000: text allows at most"):
        tasks.check_length("text", 10**8)
    with pytest.raises(LraError, match="expected a positive whole number"):
        tasks.check_length("text", 1e8)


# ------------------------------------------------------------------ 4. interrupted generation

def test_a_killed_listops_generation_is_never_loaded_as_a_mix(tmp_path, capsys):
    out = tmp_path / "listops"
    assert main(["data", "generate", "listops", "--out", str(out), "--seed", "1", *LISTOPS_SMALL]) == 0
    (out / "notes.txt").write_text("mine")
    child = run_python(f"""
        import os, signal
        from lra.data import listops
        real, placed = os.replace, []
        def replace(src, dst, *args, **kwargs):  # die after the first split file is in place
            if str(dst).endswith(".tsv"):
                placed.append(dst)
                if len(placed) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst, *args, **kwargs)
        os.replace = replace
        listops.write_listops({str(out)!r}, n_train=20, n_val=6, n_test=6, seed=2, min_length=4, max_length=40,
                              max_depth=3, max_args=4)
    """)
    assert child.returncode == -signal.SIGKILL, child.stderr
    config = DataConfig(data_dir=str(out), max_length=40)
    with pytest.raises(LraError, match=r"interrupted.*lra data generate listops --out"):
        tasks.load_split("listops", "test", config)
    assert main(train_argv("listops", tmp_path / "run", *FAST, data_dir=out)) == 2
    one_line_error(capsys, "incomplete", "run `lra data generate listops")
    # the demo regenerates a set with a split missing, and `generate` again makes a whole one
    assert not all((out / name).is_file() for name in listops.SPLIT_FILES.values())
    assert main(["data", "generate", "listops", "--out", str(out), "--seed", "2", *LISTOPS_SMALL]) == 0
    assert len(tasks.load_split("listops", "test", config)) == 6
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".cache")) == sorted(
        [".lra-listops.json", "notes.txt", *listops.SPLIT_FILES.values()])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_pathfinder_generation_is_not_a_set_and_its_workers_die(tmp_path):
    out = tmp_path / "pf"
    code = (f"from lra.data import pathfinder; pathfinder.generate({str(out)!r}, 32, 'hard', n=100000, seed=0, "
            f"workers=2, batch_size=1000, progress=False)")  # a batch takes each worker about a minute
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while not any(out.rglob("*.png")):
            assert parent.poll() is None and time.monotonic() < deadline, "generation did not start"
            time.sleep(0.05)
        workers = _children(parent.pid)
        assert len(workers) >= 2
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), "pool workers outlived their killed parent"
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
        parent.stderr.close()
    root = out / pathfinder.folder_for(32, "hard")
    assert not (root / "metadata").is_dir(), "the demo would take the partial set as made"
    with pytest.raises(LraError, match="lra data generate pathfinder"):
        pathfinder.load_split(out, "train", 1024)
    pathfinder.generate(out, 32, "hard", n=10, seed=0, workers=1, batch_size=5, progress=False)
    assert sum(len(pathfinder.load_split(out, s, 1024)[1]) for s in ("train", "val", "test")) == 10
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name], "the killed run's temp folder is gone"
    assert (root / ".lra-made.json").is_file()
    assert root.stat().st_mode & 0o777 == 0o777 & ~_umask(), "as readable as a folder made by mkdir"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ 5. one line and exit 2

def test_a_missing_split_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    write_small_listops(data, n_train=8, n_val=4, n_test=4)
    (data / "basic_test.tsv").unlink()
    assert main(train_argv("listops", tmp_path / "run", *FAST, data_dir=data)) == 2
    one_line_error(capsys, "basic_test.tsv", "lra data generate listops --out")
    assert not (tmp_path / "run").exists()
    assert main(["data", "info", "listops", "--data-dir", str(data)]) == 0
    assert "basic_test.tsv" in capsys.readouterr().out


@pytest.mark.parametrize("damage, fragment", [
    (lambda root: (root / "imgs/0/sample_2.png").write_bytes((root / "imgs/0/sample_2.png").read_bytes()[:60]),
     "sample_2.png: not a readable image"),
    (lambda root: (root / "imgs/1/sample_0.png").write_bytes(b"\x89PNG garbage"), "sample_0.png: not a readable"),
    (lambda root: (root / "metadata/1.npy").write_bytes(b"imgs/1 sample_0.png 0 1 1.0 14\n\xff\xfe 2 1\n"),
     "1.npy, line 2: not UTF-8"),
])
def test_damaged_pathfinder_files_are_one_line(damage, fragment, pathfinder_dir, tmp_path, capsys):
    root = copy_pathfinder(pathfinder_dir, tmp_path / "data")
    damage(root)
    assert main(train_argv("pathfinder", tmp_path / "run", data_dir=tmp_path / "data")) == 2
    one_line_error(capsys, fragment)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder unwritable. Not root: chmod 555. Root (which chmod does not stop): every write below
    the folder from this process (mkdir, open for writing, rename, unlink) fails with EACCES, as it would."""
    chmodded: list[Path] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
            chmodded.append(folder)
            return folder
        top = str(folder.resolve())

        def below(path) -> bool:
            if isinstance(path, int):
                return False
            full = os.path.abspath(os.fsdecode(path))
            return full == top or full.startswith(top + os.sep)

        def deny(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

        def guard(real, check):
            def wrapper(*args, **kwargs):
                if kwargs.get("dir_fd") is None and check(*args, **kwargs):
                    deny(args[0] if not isinstance(args[0], int) else args[-1])
                return real(*args, **kwargs)
            return wrapper

        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT
        monkeypatch.setattr(os, "mkdir", guard(os.mkdir, lambda p, *a, **k: below(p)))
        monkeypatch.setattr(os, "open", guard(os.open, lambda p, flags, *a, **k: below(p) and flags & writes))
        for name in ("replace", "rename"):
            monkeypatch.setattr(os, name, guard(getattr(os, name), lambda s, d, *a, **k: below(s) or below(d)))
        monkeypatch.setattr(os, "unlink", guard(os.unlink, lambda p, *a, **k: below(p)))
        opener = guard(builtins.open, lambda f, mode="r", *a, **k: below(f) and any(c in mode for c in "wax+"))
        monkeypatch.setattr(builtins, "open", opener)
        monkeypatch.setattr(io, "open", opener)
        return folder

    yield make
    for folder in chmodded:
        folder.chmod(0o755)


@pytest.mark.parametrize("argv", [
    ["data", "prepare", "listops", "--source", "{src}", "--data-dir", "{ro}"],
    ["data", "prepare", "text", "--source", "{imdb}", "--data-dir", "{ro}"],
    ["data", "generate", "listops", "--out", "{ro}", *LISTOPS_SMALL],
    ["data", "generate", "listops", "--out", "{ro}/sub", *LISTOPS_SMALL],
    ["data", "generate", "pathfinder", "--out", "{ro}", "--n", "4", "--batch-size", "2", "--workers", "1",
     "--quiet"],
    ["data", "download", "text", "--data-dir", "{ro}/text", "--quiet"],  # refused before any network traffic
])
def test_a_read_only_data_dir_is_one_line(argv, tmp_path, read_only, capsys):
    src, imdb = release_listops(tmp_path / "src"), write_imdb(tmp_path / "imdb", per_class=2)
    ro = read_only(tmp_path / "ro")
    argv = [a.format(src=src, imdb=imdb, ro=ro) for a in argv]
    assert main(argv) == 2
    one_line_error(capsys, "cannot write", str(ro))
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("flags, fragment", [
    (["--batch-size", "0"], "--batch-size=0"),
    (["--batch-size", "-3"], "--batch-size=-3"),
    (["--n", "0"], "--n=0"),
    (["--workers", "-1"], "--workers=-1"),
    (["--seed", "-1"], "--seed=-1"),
])
def test_non_positive_pathfinder_sizes_are_one_line(flags, fragment, tmp_path, capsys):
    assert main(["data", "generate", "pathfinder", "--out", str(tmp_path / "out"), "--n", "4", "--quiet",
                 *flags]) == 2
    one_line_error(capsys, fragment, "expected a whole number")
    assert not (tmp_path / "out").exists()


def test_negative_listops_sizes_are_one_line(tmp_path, capsys):
    assert main(["data", "generate", "listops", "--out", str(tmp_path / "out"), *LISTOPS_SMALL, "--val", "-1"]) == 2
    one_line_error(capsys, "must not be negative")
    assert not (tmp_path / "out").exists()


def test_info_into_a_closed_pipe_ends_quietly(tmp_path):
    write_small_listops(tmp_path, n_train=8, n_val=4, n_test=4)
    child = subprocess.Popen([sys.executable, "-m", "lra", "data", "info", "listops", "--data-dir", str(tmp_path)],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # `| head` that has already gone away
    _, err = child.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert child.returncode == 0


@pytest.mark.parametrize("kind", ["empty file", "empty tar"])
def test_an_empty_archive_is_one_line(kind, tmp_path, capsys):
    archive = tmp_path / "lra_release.gz"
    if kind == "empty file":
        archive.write_bytes(b"")
    else:
        tarfile.open(archive, "w:gz").close()
    assert main(["data", "prepare", "listops", "--source", str(archive), "--data-dir", str(tmp_path / "d")]) == 2
    one_line_error(capsys, str(archive), "is empty" if kind == "empty file" else "holds no files", "expected")
    assert not (tmp_path / "d").exists()


def test_a_corrupt_download_is_moved_aside_not_reused(tmp_path, capsys):
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    broken = downloads / "lra_release.gz"
    with tarfile.open(broken, "w:gz") as tar:
        tar.add(release_listops(tmp_path / "src"), arcname="lra_release")
    broken.write_bytes(broken.read_bytes()[:-40])  # truncated: the tail of the gzip stream is gone
    argv = ["data", "download", "listops", "--data-dir", str(tmp_path / "data" / "listops"), "--quiet"]
    assert main(argv) == 2
    one_line_error(capsys, "lra_release.gz", "moved aside", "lra data download listops")
    assert not broken.exists() and (downloads / "lra_release.gz.bad").is_file()
    assert not (tmp_path / "data" / "listops").exists()
