"""CIFAR-10 as 1,024 grayscale pixel tokens (LRA's image task).

Source: the official python archive `cifar-10-python.tar.gz` (cifar-10-batches-py/data_batch_1..5 and
test_batch: pickles with b"data", (N, 3072) uint8 as R, G, B planes of 32x32, and b"labels").
Splits as LRA: train = the first 90% of the 50,000 training images, val = the last 10%, test = 10,000.
Grayscale exactly as tf.image.rgb_to_grayscale with convert_image_dtype on both sides.
Tokens: the 0..255 intensities plus `pixel_offset` (0 is LRA's, where black equals the pad id).
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np

from lra.data.archive import extract_folder, find_members
from lra.data.cache import cached_arrays
from lra.errors import LraError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
_MEMBER = re.compile(r"(?:^|/)cifar-10-batches-py/(data_batch_[1-5]|test_batch)$")
TF_GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)


def tf_grayscale(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> uint8 (...), as TF: x/255 in float32, weighted sum, then *255.5 and a saturating
    truncating cast (convert_image_dtype's float -> uint8 rule)."""
    as_float = rgb.astype(np.float32) * np.float32(1.0 / 255.0)
    gray = as_float @ TF_GRAY_WEIGHTS
    return np.clip(gray * np.float32(255.5), 0, 255).astype(np.uint8)


class _ArrayUnpickler(pickle.Unpickler):
    """The CIFAR batches hold numpy arrays and plain types only; refuse anything else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "list"), ("builtins", "dict")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data, labels = np.asarray(batch[b"data"], dtype=np.uint8), np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, EOFError, ValueError, TypeError) as error:
        raise LraError(f"{path}: not a CIFAR-10 python batch ({error})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise LraError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape} and {len(labels)}")
    if labels.min() < 0 or labels.max() > 9:
        raise LraError(f"{path}: labels must lie in 0..9")
    rgb = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return tf_grayscale(rgb).reshape(-1, 1024), labels


def prepare(source: Path, data_dir: Path, progress: bool = False) -> Path:
    members = find_members(Path(source), lambda p: m.group(1) if (m := _MEMBER.search(p)) else None)
    missing = sorted(set(TRAIN_BATCHES + [TEST_BATCH]) - set(members))
    if missing:
        raise LraError(f"{source}: {', '.join(missing)} not found; expected cifar-10-python.tar.gz or its "
                       f"unpacked {FOLDER}/ folder")
    extract_folder(Path(source), members, Path(data_dir) / FOLDER, "lra data prepare image")
    return Path(data_dir)


def load_split(data_dir: Path, split: str, max_length: int, pixel_offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    if max_length < 1024:
        raise LraError(f"data.max_length={max_length}: CIFAR-10 images are 1,024 pixels")
    folder = Path(data_dir) / FOLDER
    names = [TEST_BATCH] if split == "test" else TRAIN_BATCHES
    paths = [folder / name for name in names]
    for path in paths:
        if not path.is_file():
            raise LraError(f"{path} is missing; get CIFAR-10 with `lra data download image` or "
                           f"`lra data prepare image --source cifar-10-python.tar.gz`")

    def build() -> dict[str, np.ndarray]:
        pixels, labels = zip(*(read_batch(p) for p in paths))
        return {"pixels": np.concatenate(pixels), "labels": np.concatenate(labels)}

    group = "test" if split == "test" else "train"
    arrays = cached_arrays(Path(data_dir) / ".cache", f"image-{group}", {"format": 1}, paths, build,
                           keys=("pixels", "labels"))
    pixels, labels = arrays["pixels"], arrays["labels"]
    if split != "test":
        cut = len(pixels) * 9 // 10
        pixels, labels = (pixels[:cut], labels[:cut]) if split == "train" else (pixels[cut:], labels[cut:])
    tokens = pixels if pixel_offset == 0 else pixels.astype(np.int16) + pixel_offset
    if max_length > 1024:
        tokens = np.pad(tokens, ((0, 0), (0, max_length - 1024)))
    return tokens, labels
