"""Pathfinder and Path-X: generation into the official layout, preparation of the LRA release, loading.

Layout (as in the LRA release):
    pathfinder{res}/{curv_baseline|curv_contour_length_9|curv_contour_length_14}/
        imgs/<batch>/sample_<i>.png
        metadata/<batch>.npy      text despite its extension: one row per image, 11 space-separated fields
                                  (folder, file, index, label, continuity, contour length, distractor length,
                                  paddle length, thickness, margin, number of contrasts)
Splits: 80/10/10 of all images after a fixed-seed shuffle (LRA sliced TFDS records in order; generated
batches come in order, so we shuffle once to keep the splits alike), with empty images dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from lra.data.archive import MARK, clean_temps_of, extract_folder, find_members, own_folder, shareable
from lra.data.cache import ContentHash, cached_arrays
from lra.data.pathfinder_gen import DIFFICULTY_FOLDER, lra_params, render
from lra.errors import LraError
from lra.safe_io import atomic_write_json, replace_dir, temp_dir_for

FIELDS = 11
SPLIT_SEED = 0
FRACTIONS = (0.8, 0.1, 0.1)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def folder_for(resolution: int, difficulty: str) -> str:
    if difficulty not in DIFFICULTY_FOLDER:
        raise LraError(f"difficulty {difficulty!r}: expected one of {', '.join(DIFFICULTY_FOLDER)}")
    return f"pathfinder{resolution}/{DIFFICULTY_FOLDER[difficulty]}"


def _write_batch(job: tuple) -> int:
    root, resolution, difficulty, batch, count, seed = job
    params = lra_params(resolution, difficulty)
    rng = np.random.default_rng([seed, batch])
    images = root / "imgs" / str(batch)
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        pixels, label, geometry = render(params, rng)
        name = f"sample_{i}.png"
        Image.fromarray(pixels).save(images / name, format="PNG")  # the whole folder is swapped in at the end
        rows.append(f"imgs/{batch} {name} {i} {label} {params.continuity} {params.contour_length} "
                    f"{params.distractor_length} {params.paddle_length} {params.paddle_thickness} "
                    f"{geometry['margin']} 1\n")
    (root / "metadata").mkdir(exist_ok=True)
    (root / "metadata" / f"{batch}.npy").write_text("".join(rows), encoding="utf-8")
    return count


def _die_with_parent(parent: int) -> None:
    """Pool initializer: a worker must not outlive a killed parent and keep writing images."""
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0  # the kernel kills us with the parent
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)
    if armed:
        return

    def watch() -> None:  # where prctl is missing (macOS, BSD): poll the parent
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _positive(name: str, value: object, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise LraError(f"{name}={value!r}: expected a whole number >= {low}")


def generate(out_dir: str | Path, resolution: int = 32, difficulty: str = "hard", n: int = 1000, seed: int = 0,
             workers: int | None = None, batch_size: int = 1000, progress: bool = True) -> Path:
    """Write n images in the official layout under out_dir; the same for a seed whatever `workers` is.

    The set is built in a hidden temp folder beside its final place and swapped in (with `MARK` holding
    the parameters) only when every image is written: a killed run never leaves a set that loads as
    complete, its workers die with it, and the next run removes its temp folder.
    """
    try:
        lra_params(resolution, difficulty)
    except ValueError as error:
        raise LraError(f"pathfinder: {error}") from None
    _positive("--n", n)
    _positive("--batch-size", batch_size)
    _positive("--workers", 0 if workers is None else workers, allow_zero=True)
    _positive("--seed", seed, allow_zero=True)
    root = Path(os.path.abspath(out_dir)) / folder_for(resolution, difficulty)
    own_folder(root, "lra data generate")
    clean_temps_of(root.parent, root.name)
    built = temp_dir_for(root)
    jobs = [(built, resolution, difficulty, batch, min(batch_size, n - batch * batch_size), seed)
            for batch in range((n + batch_size - 1) // batch_size)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = pool = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="img", desc=f"pathfinder{resolution} {difficulty}")
    try:
        if workers == 1:
            done = map(_write_batch, jobs)
        else:
            # fork where the platform has it: the workers need no state beyond this module's code.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            pool = multiprocessing.get_context(method).Pool(workers, initializer=_die_with_parent,
                                                            initargs=(os.getpid(),))
            done = pool.imap_unordered(_write_batch, jobs)
        for count in done:
            if bar is not None:
                bar.update(count)
        if pool is not None:
            pool.close()
            pool.join()
            pool = None
        atomic_write_json(built / MARK, {"made_by": "lra data generate pathfinder", "resolution": resolution,
                                         "difficulty": difficulty, "n": n, "seed": seed, "batch_size": batch_size})
        shareable(built)
        replace_dir(built, root)
    except OSError as error:
        raise LraError(f"cannot write {error.filename or built}: {error.strerror or error}") from None
    finally:
        if pool is not None:  # an error or an interrupt: stop the workers now, do not wait for their jobs
            pool.terminate()
            pool.join()
        if bar is not None:
            bar.close()
        if built.exists():
            shutil.rmtree(built, ignore_errors=True)
    return root


def find_root(data_dir: Path, resolution: int, difficulty: str) -> Path:
    folder = folder_for(resolution, difficulty)
    for base in (data_dir, data_dir / "lra_release", data_dir / "lra_release" / "lra_release"):
        if (base / folder / "metadata").is_dir():
            return base / folder
    raise LraError(f"no {folder}/metadata under {data_dir}; generate it with `lra data generate pathfinder "
                   f"--resolution {resolution} --difficulty {difficulty} --out {data_dir}` or prepare the LRA "
                   f"release with `lra data prepare`")


def _metadata_text(path: Path, digest: ContentHash | None = None) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise LraError(f"{path}: cannot read ({error.strerror or error})") from None
    if digest is not None:
        digest.add(path.name, raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise LraError(f"{path}, line {line}: not UTF-8 text (byte {raw[error.start]:#04x} at offset "
                       f"{error.start}); expected Pathfinder metadata: {FIELDS} space-separated fields a row"
                       ) from None


def read_metadata(root: Path, digest: ContentHash | None = None) -> list[tuple[Path, int]]:
    """(image path, label) of every metadata row; `digest`, when given, takes in the metadata's bytes."""
    files = sorted(root.joinpath("metadata").glob("*.npy"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise LraError(f"{root / 'metadata'} holds no metadata files")
    rows = []
    for path in files:
        for number, line in enumerate(_metadata_text(path, digest).split("\n"), start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != FIELDS:
                raise LraError(f"{path}, line {number}: expected {FIELDS} space-separated fields, "
                               f"found {len(fields)}")
            if fields[3] not in ("0", "1"):
                raise LraError(f"{path}, line {number}: label (field 4) must be 0 or 1, found {fields[3]!r}")
            rows.append((root / fields[0] / fields[1], int(fields[3])))
    return rows


def _read_image(path: Path, resolution: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("L"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise LraError(f"{path}: not a readable image ({error}); expected a {resolution}x{resolution} PNG; "
                       f"generate or prepare the set again") from None
    if array.shape != (resolution, resolution):
        raise LraError(f"{path}: expected a {resolution}x{resolution} image, found {array.shape[1]}x"
                       f"{array.shape[0]}")
    return array


def _read_all(rows: list[tuple[Path, int]], root: Path, resolution: int) -> dict[str, np.ndarray]:
    pixels, labels = [], []
    for path, label in rows:
        if path.stat().st_size == 0:
            continue  # the release has empty images; LRA drops them
        pixels.append(_read_image(path, resolution).reshape(-1))
        labels.append(label)
    if not pixels:
        raise LraError(f"{root}: no readable images")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pixels))
    return {"pixels": np.stack(pixels)[order], "labels": np.array(labels, dtype=np.int64)[order]}


def load_split(data_dir: Path, split: str, max_length: int, resolution: int = 32, difficulty: str = "hard",
               pixel_offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    size = resolution * resolution
    if max_length < size:
        raise LraError(f"data.max_length={max_length}: {resolution}x{resolution} images are {size} pixels")
    root = find_root(Path(data_dir), resolution, difficulty)
    # The cache key: the metadata's bytes and each image's name, size, dates and inode (reading 200,000
    # images twice would cost as much as the cache saves; an edit in place still changes the ctime).
    digest = ContentHash()
    rows = read_metadata(root, digest)
    images = [path for path, _ in rows]
    for path in images:
        if not path.is_file():
            raise LraError(f"{path} is listed in the metadata but missing")
    digest.add_stats(images)
    arrays = cached_arrays(Path(data_dir) / ".cache", f"pathfinder{resolution}-{difficulty}",
                           {"split_seed": SPLIT_SEED, "format": 1}, [], lambda: _read_all(rows, root, resolution),
                           content=digest.hexdigest(), keys=("pixels", "labels"))
    n = len(arrays["labels"])
    cut_train, cut_val = int(n * FRACTIONS[0]), int(n * (FRACTIONS[0] + FRACTIONS[1]))
    part = {"train": slice(0, cut_train), "val": slice(cut_train, cut_val), "test": slice(cut_val, n)}[split]
    pixels, labels = arrays["pixels"][part], arrays["labels"][part]
    tokens = pixels if pixel_offset == 0 else pixels.astype(np.int16) + pixel_offset
    if max_length > size:
        tokens = np.pad(tokens, ((0, 0), (0, max_length - size)))
    return tokens, labels


def prepare(source: Path, data_dir: Path, resolution: int = 32, progress: bool = False) -> Path:
    """Extract pathfinder{resolution} (all difficulties) from the LRA release archive or folder."""
    pattern = re.compile(rf"(?:^|/)pathfinder{resolution}/(curv_[a-z0-9_]+/(?:imgs/\d+/sample_\d+\.png|"
                         rf"metadata/\d+\.npy))$")
    members = find_members(Path(source), lambda p: m.group(1) if (m := pattern.search(p)) else None)
    if not any("/metadata/" in name for name in members):
        raise LraError(f"{source}: no pathfinder{resolution}/*/metadata found; expected the LRA release "
                       f"(lra_release.gz) or a folder holding pathfinder{resolution}/")
    extract_folder(Path(source), members, Path(data_dir) / f"pathfinder{resolution}",
                   "lra data prepare")
    return Path(data_dir)
