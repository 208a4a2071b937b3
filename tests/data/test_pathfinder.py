import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from lra.data import pathfinder
from lra.data.tasks import prepare_task
from lra.errors import LraError
from tests.helpers import copy_pathfinder


def test_layout_metadata_and_determinism_across_workers(tmp_path):
    a = pathfinder.generate(tmp_path / "a", 32, "hard", n=10, seed=3, workers=1, batch_size=4, progress=False)
    b = pathfinder.generate(tmp_path / "b", 32, "hard", n=10, seed=3, workers=2, batch_size=4, progress=False)
    assert a.relative_to(tmp_path / "a").as_posix() == "pathfinder32/curv_contour_length_14"
    assert sorted(p.name for p in (a / "metadata").iterdir()) == ["0.npy", "1.npy", "2.npy"]
    rows = (a / "metadata" / "2.npy").read_text().splitlines()
    assert len(rows) == 2 and rows[0].split()[:3] == ["imgs/2", "sample_0.png", "0"] and len(rows[0].split()) == 11
    for batch in range(3):
        for png in (a / "imgs" / str(batch)).iterdir():
            assert png.read_bytes() == (b / "imgs" / str(batch) / png.name).read_bytes()
    c = pathfinder.generate(tmp_path / "c", 32, "hard", n=4, seed=4, workers=1, batch_size=4, progress=False)
    assert (c / "imgs/0/sample_0.png").read_bytes() != (a / "imgs/0/sample_0.png").read_bytes()


def test_reader_splits_80_10_10_with_pixels_as_tokens(pathfinder_dir):
    sizes = []
    for split in ("train", "val", "test"):
        tokens, labels = pathfinder.load_split(pathfinder_dir, split, 1024, pixel_offset=0)
        sizes.append(len(labels))
        assert tokens.shape[1] == 1024 and tokens.dtype == np.uint8 and set(labels.tolist()) <= {0, 1}
    assert sizes == [32, 4, 4]
    shifted, _ = pathfinder.load_split(pathfinder_dir, "train", 1024, pixel_offset=1)
    raw, _ = pathfinder.load_split(pathfinder_dir, "train", 1024, pixel_offset=0)
    assert np.array_equal(shifted, raw.astype(np.int16) + 1)


def test_reader_errors_and_empty_images(pathfinder_dir, tmp_path):
    root = copy_pathfinder(pathfinder_dir, tmp_path / "empty")
    (root / "imgs" / "0" / "sample_3.png").write_bytes(b"")
    tokens, _ = pathfinder.load_split(tmp_path / "empty", "train", 1024)
    assert sum(len(pathfinder.load_split(tmp_path / "empty", s, 1024)[1]) for s in ("train", "val", "test")) == 39
    assert len(tokens) == 31

    root = copy_pathfinder(pathfinder_dir, tmp_path / "fields")
    (root / "metadata" / "1.npy").write_text("imgs/1 sample_0.png 0 1\n")
    with pytest.raises(LraError, match=r"1.npy, line 1: expected 11 space-separated fields, found 4"):
        pathfinder.load_split(tmp_path / "fields", "train", 1024)

    root = copy_pathfinder(pathfinder_dir, tmp_path / "size")
    Image.new("L", (16, 16)).save(root / "imgs" / "0" / "sample_0.png")
    with pytest.raises(LraError, match=r"sample_0.png: expected a 32x32 image, found 16x16"):
        pathfinder.load_split(tmp_path / "size", "train", 1024)

    with pytest.raises(LraError, match="lra data generate pathfinder"):
        pathfinder.load_split(tmp_path / "nothing", "train", 1024)


def test_prepare_from_the_release_layout(pathfinder_dir, tmp_path):
    archive = tmp_path / "lra_release.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(pathfinder_dir / "pathfinder32", arcname="lra_release/lra_release/pathfinder32")
        listops = b"Source\tTarget\n[MAX 1 2 ]\t2\n"
        for split in ("train", "val", "test"):
            info = tarfile.TarInfo(f"lra_release/listops-1000/basic_{split}.tsv")
            info.size = len(listops)
            tar.addfile(info, io.BytesIO(listops))
    prepare_task("pathfinder", archive, tmp_path / "pf")
    assert (tmp_path / "pf" / "pathfinder32" / "curv_contour_length_14" / "metadata" / "0.npy").is_file()
    assert len(pathfinder.load_split(tmp_path / "pf", "train", 1024)[1]) == 32
    prepare_task("listops", archive, tmp_path / "lo")
    assert (tmp_path / "lo" / "basic_val.tsv").read_bytes() == listops
