"""`python -m htr read --api`: the same outputs from a page API's answers, N requests at once."""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from serving import remote
from training.data.pages import read_page_xml

ROOT = Path(__file__).resolve().parents[2]
ALL = "txt,json,page,alto"
EXPECTED = sorted(
    f"{stem}{suffix}"
    for stem in ("good1", "sub/good2")
    for suffix in (".txt", ".json", ".xml", ".alto.xml")
)


def _page_answer(width: int, height: int) -> dict:
    line = {
        "id": "line_1",
        "polygon": [[2, 2], [width - 2, 2], [width - 2, height - 2], [2, height - 2]],
        "baseline": [[2, height - 4], [width - 2, height - 4]],
        "text": "from the API",
        "confidence": 0.8,
        "unsure": False,
        "words": [["from", 0.8], ["the", 0.8], ["API", 0.8]],
    }
    return {
        "width": width,
        "height": height,
        "lines": [line],
        "text": line["text"],
        "calibrated": True,
        "model": "api-model",
        "revision": "r9",
    }


class FakeApi:
    """Answers {"page": b64} with a page dict, 400 for undecodable images, 503 on demand; the
    first request waits (at most 10 s) for a second to arrive, which shows requests overlap."""

    def __init__(self, wrap: bool) -> None:
        self.wrap, self.lock, self.overlap = wrap, threading.Lock(), threading.Event()
        self.in_flight = self.most = self.requests = self.fail_next = 0

    def answer(self, request: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= 2:
                self.overlap.set()
            failing, self.fail_next = self.fail_next > 0, max(self.fail_next - 1, 0)
        self.overlap.wait(10)
        try:
            if failing:
                return 503, {"message": "Service Unavailable"}
            image = Image.open(io.BytesIO(base64.b64decode(request["page"])))
            return 200, _page_answer(*image.size)
        except OSError:
            return 400, {"error": "image bytes are not a readable image; send PNG, JPEG or WebP"}
        finally:
            with self.lock:
                self.in_flight -= 1

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, body = api.answer(request)
                if api.wrap:  # the Lambda emulator: HTTP 200 around the handler's own status
                    status, body = 200, {"statusCode": status, "body": json.dumps(body)}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@contextmanager
def _serving(api: FakeApi):
    server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("wrap", [False, True], ids=["function-url", "emulator"])
def test_api_reads_two_at_once_and_reports_its_400(
    scans, tmp_path, caplog, capsys, wrap, htr_read, outputs
):
    api = FakeApi(wrap)
    out = tmp_path / "out"
    with _serving(api) as url, caplog.at_level(logging.ERROR):
        args = [str(scans), "--format", ALL, "--out", str(out)]
        assert htr_read(*args, "--api", url, "--concurrency", "2") == 1
    assert api.most == 2 and api.requests == 3
    assert outputs(out) == EXPECTED
    assert (out / "good1.txt").read_text() == "from the API\n"
    assert [s.text for s in read_page_xml(out / "sub" / "good2.alto.xml")] == ["from the API"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert "the API answered 400: image bytes are not a readable image" in errors[0]
    assert "1 failed" in capsys.readouterr().out


def test_api_retries_a_5xx_once(scans, tmp_path, monkeypatch, htr_read):
    monkeypatch.setattr(remote, "RETRY_PAUSE_S", 0.0)
    api = FakeApi(wrap=False)
    api.overlap.set()  # one request at a time here
    image = str(scans / "good1.png")
    with _serving(api) as url:
        api.fail_next = 1
        assert htr_read(image, "--out", str(tmp_path / "a"), "--api", url) == 0
        assert api.requests == 2
        api.fail_next = 2
        assert htr_read(image, "--out", str(tmp_path / "b"), "--api", url) == 1
    assert api.requests == 4 and not (tmp_path / "b").exists()


def test_api_that_does_not_answer_fails_each_file_with_the_reason(
    scans, tmp_path, caplog, monkeypatch, htr_read
):
    monkeypatch.setattr(remote, "RETRY_PAUSE_S", 0.0)
    with _serving(FakeApi(wrap=False)) as url:
        pass  # the port is closed again: connections are refused
    with caplog.at_level(logging.ERROR):
        assert htr_read(str(scans / "good1.png"), "--out", str(tmp_path), "--api", url) == 1
    assert "no connection to the API" in caplog.text and "good1.png" in caplog.text


@pytest.mark.slow
def test_the_command_through_the_lambda_runtime(
    scans, tmp_path, tiny_model_file, running_lambda, outputs
):
    out = tmp_path / "out"
    with running_lambda(tiny_model_file, workers=1) as port:
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        command = [sys.executable, "-m", "htr", "read", str(scans), "--format", ALL]
        run = subprocess.run(
            [*command, "--out", str(out), "--api", url, "--concurrency", "2"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 1, run.stderr  # broken.png, refused by the handler
    assert "broken.png" in run.stderr and "the API answered 400" in run.stderr
    assert "read 2 of 3 images" in run.stdout
    assert outputs(out) == EXPECTED
    page = json.loads((out / "sub" / "good2.json").read_text(encoding="utf-8"))
    assert (page["width"], page["height"]) == (240, 160) and page["request_id"]
