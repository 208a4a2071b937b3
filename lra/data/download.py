"""Official sources, and a resumable download that is verified before it is used.

The file grows as `<name>.part`; an interrupted download continues from its size with an HTTP Range
request. Only when the checksum (or, where none is published, the size) matches is it renamed to its
final name, so a broken download is never trained on. A download without a checksum that turns out
unreadable when it is prepared is moved aside (`set_aside`), so the next run fetches it again.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lra.errors import LraError


@dataclass(frozen=True)
class Source:
    url: str
    filename: str
    md5: str | None  # None where no checksum is published
    note: str = ""


IMDB = Source("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz", "aclImdb_v1.tar.gz",
              "7c2ac02c03563afcf9b574c7e56c153a")
CIFAR10 = Source("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                 "c58f30108f718f92721af3b95e74349a")
LRA_RELEASE = Source("https://storage.googleapis.com/long-range-arena/lra_release.gz", "lra_release.gz", None,
                     note="about 8 GB (18.6 GB unpacked); no checksum is published, so only its readability "
                          "as an archive is checked")
TASK_SOURCES = {"text": IMDB, "image": CIFAR10, "listops": LRA_RELEASE, "retrieval": LRA_RELEASE,
                "pathfinder": LRA_RELEASE, "pathx": LRA_RELEASE, "pathfinder64": LRA_RELEASE,
                "pathfinder256": LRA_RELEASE}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def set_aside(path: Path) -> Path:
    """Rename a downloaded file that proved unreadable to `<name>.bad` (replacing an older one), so that the
    next download fetches it again instead of reusing it; returns the new name."""
    path = Path(path)
    bad = path.with_name(path.name + ".bad")
    try:
        os.replace(path, bad)
    except OSError as error:
        raise LraError(f"{path} is unreadable and could not be moved aside ({error.strerror or error}); "
                       f"delete it and run the download again") from None
    return bad


def download(url: str, dest: Path, md5: str | None = None, progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch url to dest, resuming dest.part; verify md5 when given. Returns dest."""
    dest = Path(dest)
    if dest.exists() and (md5 is None or md5sum(dest) == md5):
        return dest
    part = dest.with_name(dest.name + ".part")
    try:  # before any network traffic: a folder that cannot be written is one line, not a traceback
        dest.parent.mkdir(parents=True, exist_ok=True)
        open(part, "ab").close()
    except OSError as error:
        raise LraError(f"cannot write {error.filename or part}: {error.strerror or error}") from None
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # the part file is already complete
            response = None
        else:
            raise LraError(f"downloading {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise LraError(f"downloading {url}: {error}; run the same command again to resume") from None
    if response is not None:
        with response:
            resumed = start and response.status == 206
            total = response.headers.get("Content-Length")
            total = int(total) + (start if resumed else 0) if total else None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, initial=start if resumed else 0, unit="B", unit_scale=True, desc=dest.name)
            with open(part, "ab" if resumed else "wb") as f:
                try:
                    while block := response.read(1 << 20):
                        f.write(block)
                        if bar is not None:
                            bar.update(len(block))
                except OSError as error:
                    raise LraError(f"downloading {url} stopped: {error}; run the same command again to "
                                   f"resume from {part.stat().st_size} bytes") from None
                finally:
                    if bar is not None:
                        bar.close()
            if total is not None and part.stat().st_size != total:
                raise LraError(f"{part}: got {part.stat().st_size} of {total} bytes; run again to resume")
    if md5 is not None:
        found = md5sum(part)
        if found != md5:
            bad = part.with_name(part.name + ".bad")
            os.replace(part, bad)
            raise LraError(f"{dest.name}: checksum mismatch (expected md5 {md5}, found {found}); the file was "
                           f"moved aside to {bad}; run again to download afresh")
    os.replace(part, dest)
    return dest
