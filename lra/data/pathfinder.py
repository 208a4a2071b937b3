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

import multiprocessing
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from lra.data.archive import extract, find_members
from lra.data.cache import atomic_write_bytes, cached_arrays
from lra.data.pathfinder_gen import DIFFICULTY_FOLDER, lra_params, render
from lra.errors import LraError

FIELDS = 11
SPLIT_SEED = 0
FRACTIONS = (0.8, 0.1, 0.1)


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
        Image.fromarray(pixels).save(images / f".{name}.tmp", format="PNG")
        os.replace(images / f".{name}.tmp", images / name)
        rows.append(f"imgs/{batch} {name} {i} {label} {params.continuity} {params.contour_length} "
                    f"{params.distractor_length} {params.paddle_length} {params.paddle_thickness} "
                    f"{geometry['margin']} 1\n")
    atomic_write_bytes(root / "metadata" / f"{batch}.npy", lambda f: f.write("".join(rows).encode()))
    return count


def generate(out_dir: str | Path, resolution: int = 32, difficulty: str = "hard", n: int = 1000, seed: int = 0,
             workers: int | None = None, batch_size: int = 1000, progress: bool = True) -> Path:
    """Write n images in the official layout under out_dir; the same for a seed whatever `workers` is."""
    lra_params(resolution, difficulty)  # validates
    if n < 1:
        raise LraError("--n must be at least 1")
    root = Path(out_dir) / folder_for(resolution, difficulty)
    jobs = [(root, resolution, difficulty, batch, min(batch_size, n - batch * batch_size), seed)
            for batch in range((n + batch_size - 1) // batch_size)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="img", desc=f"pathfinder{resolution} {difficulty}")
    if workers == 1:
        done = map(_write_batch, jobs)
    else:
        # fork where the platform has it: the workers need no state beyond this module's code.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers)
        done = pool.imap_unordered(_write_batch, jobs)
    try:
        for count in done:
            if bar is not None:
                bar.update(count)
    finally:
        if workers > 1:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
    return root


def find_root(data_dir: Path, resolution: int, difficulty: str) -> Path:
    folder = folder_for(resolution, difficulty)
    for base in (data_dir, data_dir / "lra_release", data_dir / "lra_release" / "lra_release"):
        if (base / folder / "metadata").is_dir():
            return base / folder
    raise LraError(f"no {folder}/metadata under {data_dir}; generate it with `lra data generate pathfinder "
                   f"--resolution {resolution} --difficulty {difficulty} --out {data_dir}` or prepare the LRA "
                   f"release with `lra data prepare`")


def read_metadata(root: Path) -> list[tuple[Path, int]]:
    files = sorted(root.joinpath("metadata").glob("*.npy"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise LraError(f"{root / 'metadata'} holds no metadata files")
    rows = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
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


def _read_all(root: Path, resolution: int) -> dict[str, np.ndarray]:
    pixels, labels = [], []
    for path, label in read_metadata(root):
        if not path.is_file():
            raise LraError(f"{path} is listed in the metadata but missing")
        if path.stat().st_size == 0:
            continue  # the release has empty images; LRA drops them
        with Image.open(path) as img:
            array = np.asarray(img.convert("L"), dtype=np.uint8)
        if array.shape != (resolution, resolution):
            raise LraError(f"{path}: expected a {resolution}x{resolution} image, found {array.shape[1]}x"
                           f"{array.shape[0]}")
        pixels.append(array.reshape(-1))
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
    sources = sorted(root.joinpath("metadata").glob("*.npy"))
    arrays = cached_arrays(Path(data_dir) / ".cache", f"pathfinder{resolution}-{difficulty}",
                           {"split_seed": SPLIT_SEED, "format": 1}, sources, lambda: _read_all(root, resolution))
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
    pattern = re.compile(rf"(?:^|/)(pathfinder{resolution}/curv_[a-z0-9_]+/(?:imgs/\d+/sample_\d+\.png|"
                         rf"metadata/\d+\.npy))$")
    members = find_members(Path(source), lambda p: m.group(1) if (m := pattern.search(p)) else None)
    if not any("/metadata/" in name for name in members):
        raise LraError(f"{source}: no pathfinder{resolution}/*/metadata found; expected the LRA release "
                       f"(lra_release.gz) or a folder holding pathfinder{resolution}/")
    extract(Path(source), members, Path(data_dir) / f"pathfinder{resolution}")
    # extract() put the members under data_dir/pathfinder{res}/pathfinder{res}/...: lift them one level.
    nested = Path(data_dir) / f"pathfinder{resolution}" / f"pathfinder{resolution}"
    if nested.is_dir():
        tmp = Path(data_dir) / f".pathfinder{resolution}-lift"
        os.replace(nested, tmp)
        os.rmdir(Path(data_dir) / f"pathfinder{resolution}")
        os.replace(tmp, Path(data_dir) / f"pathfinder{resolution}")
    return Path(data_dir)
