"""Weight downloads (simulator/core/weights.py) against a local HTTP server: streamed, capped, checked, atomic."""

from __future__ import annotations

import hashlib
import http.server
import threading
from dataclasses import replace

import pytest

from simulator.core.errors import DataError
from simulator.core.weights import WeightSpec, download, resolve_weights

BODY = bytes(range(256)) * 4096  # 1 MiB, one download chunk
PAYLOAD = BODY * 3  # 3 MiB: several chunks


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/ok``: the payload; ``/lying``: no Content-Length, twice the payload; ``/short``: half of what it announces."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        if self.path == "/ok":
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/lying":
            self.end_headers()
            self.wfile.write(PAYLOAD * 2)
        else:
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SPEC = WeightSpec("Test net", "net.pth", "BRACKETIRE_TEST_WEIGHTS", (hashlib.sha256(PAYLOAD).hexdigest(),))


def test_a_checked_download_lands_whole_under_its_name(server, tmp_path):
    target = tmp_path / "net.pth"
    assert download(SPEC, f"{server}/ok", target) == target
    assert target.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["net.pth"]  # no temporary file left


@pytest.mark.parametrize(("path", "cap", "message"), [
    ("/ok", len(PAYLOAD) - 1, rf"weights are {len(PAYLOAD)} bytes; expected at most {len(PAYLOAD) - 1}"),  # announced
    ("/lying", len(PAYLOAD) + 10, rf"weights exceed {len(PAYLOAD) + 10} bytes; download stopped"),  # streamed
    ("/short", 1 << 30, rf"truncated at {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes"),
])
def test_too_large_endless_or_truncated_downloads_leave_nothing(server, tmp_path, path, cap, message):
    target = tmp_path / "net.pth"
    with pytest.raises(DataError, match=message):
        download(replace(SPEC, sha256=(), max_bytes=cap), f"{server}{path}", target)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_checksum_keeps_the_earlier_good_file(server, tmp_path):
    target = tmp_path / "net.pth"
    target.write_bytes(b"the earlier good file")
    with pytest.raises(DataError, match="SHA-256"):
        download(replace(SPEC, sha256=("0" * 64,)), f"{server}/ok", target)
    assert target.read_bytes() == b"the earlier good file" and [p.name for p in tmp_path.iterdir()] == ["net.pth"]


def test_resolve_weights_downloads_into_the_cache_from_a_file_url(tmp_path, monkeypatch):
    source = tmp_path / "remote.bin"
    source.write_bytes(PAYLOAD)
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BRACKETIRE_OFFLINE", raising=False)
    monkeypatch.delenv("BRACKETIRE_TEST_WEIGHTS", raising=False)
    found = resolve_weights(replace(SPEC, urls=(source.as_uri(),)))
    assert found == tmp_path / "cache" / "net.pth" and found.read_bytes() == PAYLOAD
