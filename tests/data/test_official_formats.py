"""Text, retrieval and image readers on small archives and folders in the official formats."""

import collections
import io
import pickle
import tarfile

import numpy as np
import pytest

from lra.data import image, retrieval, text
from lra.errors import LraError


def make_tar(path, files: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# ------------------------------------------------------------------ IMDb

IMDB = {
    "aclImdb/train/pos/0_9.txt": b"great film",
    "aclImdb/train/neg/1_2.txt": "bad — très".encode(),
    "aclImdb/train/unsup/5_0.txt": b"ignored",
    "aclImdb/test/pos/3_8.txt": b"fine",
    "aclImdb/test/neg/4_1.txt": b"no",
    "aclImdb/test/neg/2_3.txt": b"awful and long review",
}


def test_imdb_archive_tokens_labels_and_val_is_test(tmp_path):
    data = text.prepare(make_tar(tmp_path / "aclImdb_v1.tar.gz", IMDB), tmp_path / "text")
    tokens, labels = text.load_split(data, "train", max_length=8)
    assert labels.tolist() == [0, 1]  # neg first, then pos, sorted by name
    expected = np.frombuffer("bad — très".encode()[:8], dtype=np.uint8).astype(np.int16) + 1
    assert tokens[0].tolist() == expected.tolist()  # UTF-8 bytes + 1, truncated
    assert tokens[1].tolist()[:10] == [b + 1 for b in b"great fi"]
    val, test = text.load_split(data, "val", 8), text.load_split(data, "test", 8)
    assert np.array_equal(val[0], test[0]) and test[1].tolist() == [0, 0, 1]
    assert tokens.dtype == np.int16 and tokens.max() <= 256


def test_imdb_from_folder_and_cache_is_reused(tmp_path, monkeypatch):
    for name, data in IMDB.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(data)
    data = text.prepare(tmp_path / "src", tmp_path / "text")
    first = text.load_split(data, "test", 16)
    monkeypatch.setattr(text, "byte_tokens", lambda *a: pytest.fail("raw files read again"))
    assert np.array_equal(text.load_split(data, "test", 16)[0], first[0])


def test_imdb_errors(tmp_path):
    with pytest.raises(LraError, match="no aclImdb/train/pos"):
        text.prepare(make_tar(tmp_path / "a.tar.gz", {"aclImdb/test/pos/1_1.txt": b"x"}), tmp_path / "t")
    with pytest.raises(LraError, match="is missing"):
        text.load_split(tmp_path / "nothing", "train", 10)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(make_tar(tmp_path / "ok.tar.gz", IMDB).read_bytes()[:200])
    with pytest.raises(LraError, match="truncated or corrupt|not a readable"):
        text.prepare(broken, tmp_path / "t2")
    assert not (tmp_path / "t2").exists(), "nothing half-written"


# ------------------------------------------------------------------ AAN

def aan_line(label, a, b):
    return f"{label}\tid1\tid2\t{a}\t{b}\n".encode()


def test_aan_release_layout_two_towers_and_truncation(tmp_path):
    long_doc = "x" * 12_000
    files = {f"lra_release/lra_release/tsv_data/new_aan_pairs.{s}.tsv": aan_line("1.0", "ab", long_doc)
             + aan_line("0.0", '"quoted', "cd") for s in ("train", "eval", "test")}
    files["lra_release/lra_release/listops-1000/basic_train.tsv"] = b"ignored"
    data = retrieval.prepare(make_tar(tmp_path / "lra_release.gz", files), tmp_path / "aan")
    tokens, labels = retrieval.load_split(data, "val", max_length=20)
    assert tokens.shape == (2, 2, 20) and labels.tolist() == [1, 0]
    assert tokens[0, 0, :3].tolist() == [ord("a") + 1, ord("b") + 1, 0]
    assert tokens[1, 0, 0] == ord('"') + 1, "quotes are not delimiters"
    assert (tokens[0, 1] == ord("x") + 1).all()


def test_aan_bad_rows_name_file_and_line(tmp_path):
    (tmp_path / "new_aan_pairs.train.tsv").write_bytes(aan_line(1, "a", "b") + b"1\tonly\tthree\n")
    with pytest.raises(LraError, match=r"new_aan_pairs.train.tsv, line 2: expected 5 .* found 3"):
        retrieval.load_split(tmp_path, "train", 10)
    (tmp_path / "new_aan_pairs.test.tsv").write_bytes(aan_line(3, "a", "b"))
    with pytest.raises(LraError, match="line 1: label must be 0 or 1"):
        retrieval.load_split(tmp_path, "test", 10)
    with pytest.raises(LraError, match="new_aan_pairs.eval.tsv, new_aan_pairs.test.tsv not found|not found"):
        retrieval.prepare(make_tar(tmp_path / "r.tar.gz", {"tsv_data/new_aan_pairs.train.tsv": b""}), tmp_path / "o")


# ------------------------------------------------------------------ CIFAR-10

def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": rng.integers(0, 10, n).tolist()}


def cifar_archive(tmp_path, n=10):
    files = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps(cifar_batch(n, i)) for i in range(1, 6)}
    files["cifar-10-batches-py/test_batch"] = pickle.dumps(cifar_batch(n, 9))
    return make_tar(tmp_path / "cifar-10-python.tar.gz", files)


def test_tf_grayscale_on_hand_computed_pixels():
    pixels = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [10, 200, 30], [1, 1, 1]], dtype=np.uint8)
    # TF: gray = (r*.2989 + g*.587 + b*.114)/255 in float32, then trunc(gray * 255.5), saturated at 255
    assert image.tf_grayscale(pixels).tolist() == [255, 0, 76, 124, 1]


def test_cifar_splits_pixels_and_offsets(tmp_path):
    data = image.prepare(cifar_archive(tmp_path), tmp_path / "img")
    train, val, test = (image.load_split(data, s, 1024, pixel_offset=0) for s in ("train", "val", "test"))
    assert (len(train[1]), len(val[1]), len(test[1])) == (45, 5, 10)
    raw = cifar_batch(10, 1)
    rgb = raw[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    assert np.array_equal(train[0][0], image.tf_grayscale(rgb).reshape(-1))  # row-major 32x32
    assert train[1][:10].tolist() == raw[b"labels"]
    assert train[0].dtype == np.uint8
    shifted, _ = image.load_split(data, "train", 1024, pixel_offset=1)
    assert np.array_equal(shifted, train[0].astype(np.int16) + 1)


def test_cifar_rejects_foreign_pickles_and_bad_shapes(tmp_path):
    folder = tmp_path / "img" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in image.TRAIN_BATCHES:
        (folder / name).write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(LraError, match=r"data_batch_1: expected data of shape \(N, 3072\)"):
        image.load_split(tmp_path / "img", "train", 1024)
    (folder / "test_batch").write_bytes(pickle.dumps(collections.OrderedDict(a=1)))  # not arrays
    with pytest.raises(LraError, match="test_batch: not a CIFAR-10 python batch"):
        image.load_split(tmp_path / "img", "test", 1024)
