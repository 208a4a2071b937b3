"""Resumable, verified downloads against a small HTTP server on 127.0.0.1."""

import hashlib
import http.server
import threading

import pytest

from lra.data.download import download
from lra.errors import LraError

PAYLOAD = bytes(range(256)) * 40


class RangeHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()


MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_verifies_and_names_the_file_only_when_complete(server, tmp_path):
    path = download(server, tmp_path / "file.bin", md5=MD5, progress=False)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "file.bin.part").exists()


def test_resume_from_a_partial_file(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:3000])
    path = download(server, tmp_path / "file.bin", md5=MD5, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_is_detected_and_moved_aside(server, tmp_path):
    with pytest.raises(LraError, match="checksum mismatch.*expected md5 0{32}"):
        download(server, tmp_path / "file.bin", md5="0" * 32, progress=False)
    assert not (tmp_path / "file.bin").exists()
    assert (tmp_path / "file.bin.part.bad").exists()


def test_unreachable_source_is_a_clear_error(tmp_path):
    with pytest.raises(LraError, match="run the same command again"):
        download("http://127.0.0.1:9/nothing", tmp_path / "x", progress=False, timeout=2)
