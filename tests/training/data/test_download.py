"""fetch(): local paths, file:// and a loopback HTTP server with redirects, cuts and bad content."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pooch
import pytest

from htr.errors import ChecksumError, ConfigError, DataError, DownloadError
from training.data import download
from training.data.download import fetch, sha256_file

PAYLOAD = os.urandom(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@dataclass
class ServerState:
    """What the test server serves and how it misbehaves; it records every request."""

    body: bytes = PAYLOAD
    cut_after: int | None = None  # send Content-Length of the whole body, then only this many
    redirect_to: str | None = None  # answer 302 to this URL for /start
    requests: list[dict] = field(default_factory=list)
    base: str = ""


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        st = self.server.state  # type: ignore[attr-defined]
        st.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        if st.redirect_to and self.path == "/start":
            self.send_response(302)
            self.send_header("Location", st.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.split("?")[0].endswith("/missing"):
            self.send_error(404)
            return
        chunk = st.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if st.cut_after is not None:
            chunk = chunk[: st.cut_after]  # then the handler returns and the socket closes
        self.wfile.write(chunk)


@pytest.fixture
def server() -> Iterator[ServerState]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = ServerState(base=f"http://127.0.0.1:{httpd.server_address[1]}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.state  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_sha256_file(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(PAYLOAD)
    assert sha256_file(f) == PAYLOAD_SHA


def test_http_download_then_cache_hit_makes_no_request(server: ServerState, tmp_path: Path) -> None:
    url = f"{server.base}/data/lines.pkl.gz"
    path = fetch(url, PAYLOAD_SHA, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert path.parent == tmp_path and PAYLOAD_SHA in path.name and path.name.endswith(".pkl.gz")
    assert len(server.requests) == 1
    assert fetch(url, PAYLOAD_SHA.upper(), tmp_path, progress=False) == path
    assert len(server.requests) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_http_without_checksum_caches_by_url(server: ServerState, tmp_path: Path) -> None:
    url = f"{server.base}/data/a%20b.bin"
    path = fetch(url, None, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and path.name.endswith("-a_b.bin")
    assert fetch(url, None, tmp_path, progress=False) == path
    assert len(server.requests) == 1
    assert fetch(url + "?v=2", None, tmp_path, progress=False) != path  # another URL, another file


def test_interrupted_download_leaves_nothing_and_reruns(
    server: ServerState, tmp_path: Path
) -> None:
    url = f"{server.base}/data/big.bin"
    server.cut_after = 100_000
    with pytest.raises(DownloadError, match="interrupted.*rerun") as info:
        fetch(url, PAYLOAD_SHA, tmp_path, progress=False)
    assert "127.0.0.1" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no temporary file, nothing under the final name

    server.cut_after = None
    path = fetch(url, PAYLOAD_SHA, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_interrupted_download_without_checksum_is_not_cached(
    server: ServerState, tmp_path: Path
) -> None:
    url = f"{server.base}/data/big.bin"
    server.cut_after = 100_000
    with pytest.raises(DownloadError, match="interrupted"):
        fetch(url, None, tmp_path, progress=False)
    server.cut_after = None
    assert fetch(url, None, tmp_path, progress=False).read_bytes() == PAYLOAD
    assert len(server.requests) == 2


def test_checksum_mismatch_leaves_nothing_in_cache(server: ServerState, tmp_path: Path) -> None:
    server.body = b"not the file you are looking for"
    with pytest.raises(ChecksumError) as info:
        fetch(f"{server.base}/data/big.bin", PAYLOAD_SHA, tmp_path, progress=False)
    actual = hashlib.sha256(server.body).hexdigest()
    assert PAYLOAD_SHA in str(info.value) and actual in str(info.value)
    assert "big.bin" in str(info.value) and "fix the expected sha256" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_cache_entry_is_downloaded_again(server: ServerState, tmp_path: Path) -> None:
    url = f"{server.base}/data/big.bin"
    final = download._cache_path(url, PAYLOAD_SHA, tmp_path)
    final.write_bytes(b"bit rot")
    assert fetch(url, PAYLOAD_SHA, tmp_path, progress=False).read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_http_error_names_url_and_status(server: ServerState, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"/data/missing.*HTTP 404.*rerun"):
        fetch(f"{server.base}/data/missing", None, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_raises_download_error(tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on this port any more
    with pytest.raises(DownloadError, match=f"could not reach http://127.0.0.1:{port}/x.bin"):
        fetch(f"http://127.0.0.1:{port}/x.bin", None, tmp_path, progress=False, timeout=2)


def test_credentials_are_sent_but_never_logged(
    server: ServerState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="training.data.download")
    host = server.base.removeprefix("http://")
    url = f"http://alice:s3cret@{host}/data/big.bin?token=hunter2"
    pooch_log = pooch.get_logger()  # pooch's logger stands apart from the logging tree
    pooch_log.addHandler(caplog.handler)
    try:
        fetch(url, PAYLOAD_SHA, tmp_path, progress=False)
    finally:
        pooch_log.removeHandler(caplog.handler)
    assert server.requests[0]["authorization"] == "Basic YWxpY2U6czNjcmV0"
    assert server.requests[0]["path"] == "/data/big.bin?token=hunter2"
    assert caplog.records and "/data/big.bin" in caplog.text
    assert "s3cret" not in caplog.text and "hunter2" not in caplog.text


def test_error_messages_hide_credentials(tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on this port any more
    with pytest.raises(DownloadError) as info:
        fetch(f"http://u:s3cret@127.0.0.1:{port}/x.bin?token=hunter2", None, tmp_path, timeout=2)
    assert "s3cret" not in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize(("target_host", "forwarded"), [("127.0.0.1", True), ("localhost", False)])
def test_authorization_follows_redirects_only_on_same_host(
    server: ServerState, tmp_path: Path, target_host: str, forwarded: bool
) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.redirect_to = f"http://{target_host}:{port}/data/big.bin"
    path = fetch(
        f"http://alice:s3cret@127.0.0.1:{port}/start", PAYLOAD_SHA, tmp_path, progress=False
    )
    assert path.read_bytes() == PAYLOAD
    assert [r["path"] for r in server.requests] == ["/start", "/data/big.bin"]
    assert "authorization" in server.requests[0]
    assert ("authorization" in server.requests[1]) is forwarded


@pytest.mark.parametrize(("target_host", "forwarded"), [("127.0.0.1", True), ("localhost", False)])
def test_hf_token_sent_to_huggingface_only(
    server: ServerState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target_host: str,
    forwarded: bool,
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setattr(download, "_HF_HOST", "127.0.0.1")  # the loopback server plays the Hub
    port = server.base.rsplit(":", 1)[1]
    server.redirect_to = f"http://{target_host}:{port}/data/big.bin"
    fetch(f"http://127.0.0.1:{port}/start", PAYLOAD_SHA, tmp_path, progress=False)
    fetch(f"http://localhost:{port}/data/other.bin", None, tmp_path, progress=False)
    assert server.requests[0]["authorization"] == "Bearer hf_secret"
    assert ("authorization" in server.requests[1]) is forwarded
    assert "authorization" not in server.requests[2]


def test_local_path_and_file_url(tmp_path: Path) -> None:
    src = tmp_path / "data dir" / "x.bin"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    assert fetch(str(src), PAYLOAD_SHA, cache) == src
    assert fetch(src.as_uri(), PAYLOAD_SHA, cache) == src
    assert fetch(src.as_uri(), None, cache) == src
    assert not cache.exists()  # local sources are used in place, never copied


def test_local_bad_checksum(tmp_path: Path) -> None:
    src = tmp_path / "x.bin"
    src.write_bytes(b"other")
    for source in (str(src), src.as_uri()):
        with pytest.raises(ChecksumError, match=re.escape(str(src))) as info:
            fetch(source, PAYLOAD_SHA, tmp_path / "cache")
        assert PAYLOAD_SHA in str(info.value)
        assert hashlib.sha256(b"other").hexdigest() in str(info.value)
    assert src.read_bytes() == b"other"


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'abc'"):
        fetch(str(tmp_path), "abc", tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        fetch(str(tmp_path / "nope.bin"), None, tmp_path)
    with pytest.raises(DataError, match="unsupported source scheme 'ftp'"):
        fetch("ftp://example.org/x.bin", None, tmp_path)
