"""The Page tab's callbacks, called directly, on a fake model file that reads pages; a page
sent to a line tab; the page rule; the remote API's page request."""

from __future__ import annotations

import base64
import io
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from serving import model
from serving.errors import TooLarge
from serving.page_formats import PAGE_NS
from space import app, backend, page_tab, page_view

ROWS = [(100, 140), (220, 236), (330, 380)]  # the test page's ink bands; the thin one: unsure


def _page(rows=ROWS, size=(900, 700)) -> np.ndarray:
    img = np.full((*size, 3), 245, np.uint8)
    for top, bottom in rows:
        img[top:bottom, 60:640:9] = 20  # strokes, like letters, across the band
    return img


class FakeReader:
    """A model file's line reading: a thin crop is read unsure, the others sure."""

    def read_lines(self, images: list[torch.Tensor]) -> list:
        out = []
        for image in images:
            height, width = image.shape[:2]
            conf = 0.3 if height < 30 else 0.9
            out.append((f"line {height}x{width}", conf, True, [("line", conf)]))
        return out


def _serve(module: object) -> None:
    model.set_loader(lambda: model.LoadedModel(module, "fake-pages", "r1", 0.0))  # type: ignore[arg-type]


@pytest.fixture
def stub(load_script):
    return load_script("stub_finder_space", "tests/space/stub_finder_space.py").StubFinder


@pytest.fixture
def pages(stub, monkeypatch, tmp_path):
    """A served model that reads pages; the Page tab's downloads in tmp_path."""
    monkeypatch.delenv("MODEL_URL", raising=False)
    monkeypatch.setattr(page_tab, "FILES", tmp_path / "pages")
    _serve(stub(FakeReader()))
    yield tmp_path / "pages"
    model.set_loader(None)


@pytest.fixture
def lines_only(monkeypatch):
    monkeypatch.delenv("MODEL_URL", raising=False)
    _serve(FakeReader())
    yield
    model.set_loader(None)


def test_a_page_is_drawn_read_and_downloadable(pages, tmp_path):
    path = tmp_path / "letter 1.png"
    Image.fromarray(_page()).save(path)
    drawn, text, rows, message, files = page_tab.read_page(
        {"path": str(path), "orig_name": path.name}
    )
    assert drawn.size == (700, 900) and drawn.getpixel((20, 20)) == (245, 245, 245)
    assert drawn.getpixel((56, 120)) == page_view.SURE  # the first line's left edge
    assert drawn.getpixel((56, 228)) == page_view.UNSURE
    assert text.splitlines() == ["line 48x585", "line 24x585", "line 58x585"]
    assert [r[:2] for r in rows] == [[1, "90%"], [2, "30% (unsure)"], [3, "90%"]]
    assert "**3 lines**" in message and "**1 unsure**" in message and "fake-pages" in message
    txt, xml = (Path(f) for f in files)
    assert txt.name == "letter_1.txt" and txt.read_text() == text + "\n"
    root = ET.parse(xml).getroot()
    assert root.find(f"{{{PAGE_NS}}}Page").get("imageFilename") == "letter_1.png"
    assert len(root.findall(f".//{{{PAGE_NS}}}TextLine")) == 3


def test_a_blank_page_finds_no_lines_without_an_error(pages):
    drawn, text, rows, message, files = page_tab.read_page(_page(rows=[]))
    assert "No lines found" in message and "Cannot" not in message
    assert drawn is not None and (text, rows, files) == ("", None, None)


def test_only_the_newest_downloads_are_kept(pages, monkeypatch):
    monkeypatch.setattr(page_tab, "KEEP", 2)
    for _ in range(3):
        page_tab.read_page(_page())
    assert len(list(pages.iterdir())) == 2


@pytest.mark.parametrize(
    "value, needle",
    [
        (None, "No page yet"),
        (np.zeros((6400, 6400), np.uint8), "over the limit of 40,000,000"),
    ],
)
def test_no_page_or_a_page_over_the_limit_says_what_to_do(pages, value, needle):
    drawn, text, rows, message, files = page_tab.read_page(value)
    assert needle in message and (drawn, text, rows, files) == (None, "", None, None)


def test_serving_s_limit_message_is_shown(pages, monkeypatch):
    def too_large(image):
        raise TooLarge("page is 9000x5000 pixels (45,000,000); send at most 40,000,000 pixels")

    monkeypatch.setattr(backend, "read_page", too_large)
    message = page_tab.read_page(_page())[3]
    assert message.startswith("**Cannot read this page.** Page is 9000x5000")


def test_a_lines_only_model_says_to_serve_one_with_a_finder(lines_only):
    drawn, text, rows, message, files = page_tab.read_page(_page())
    assert message == page_tab.LINES_ONLY and "exported with a finder" in message
    assert (drawn, text, rows, files) == (None, "", None, None)


def test_a_page_in_the_line_tab_is_read_as_a_page(pages):
    text, conf, words, took, name, note, state = app.read_image(_page())
    assert text.count("\n") == 2 and conf == "1 of 3 lines unsure" and took.endswith(" ms")
    assert "looks like a page" in note and "Page" in note and name == "fake-pages (r1)"
    assert state is None  # a page is no line to correct


@pytest.mark.parametrize(
    "served, rows",
    [("lines_only", ROWS), ("pages", [])],  # a lines-only model; a page model finding no line
)
def test_a_page_read_as_one_line_is_not_silent(request, served, rows):
    request.getfixturevalue(served)
    text, conf, words, took, name, note, state = app.read_image(_page(rows))
    assert text == "line 900x700" and state is not None
    assert note.startswith("**This looks like a page (700x900 px), not one line**")


@pytest.mark.parametrize(
    "shape, page",
    [
        ((48, 300), False),  # a scanned line
        ((64, 1150), False),
        ((200, 1000), False),  # the canvas
        ((400, 700), False),
        ((500, 1200), False),  # two rows on a wide strip: still read as a line
        ((401, 700), True),
        ((900, 700), True),
        ((3000, 4000), True),  # a phone photo
    ],
)
def test_the_page_rule(shape, page):
    assert page_view.looks_like_page(np.zeros(shape, np.uint8)) is page


def test_a_large_page_is_drawn_at_a_viewable_size():
    page = {"lines": [], "calibrated": True}
    assert page_view.draw(np.zeros((3000, 2000, 4), np.uint8), page).size == (1067, 1600)


def test_the_clear_script_empties_every_page_output():
    assert page_tab.CLEAR_JS.count("''") + page_tab.CLEAR_JS.count("null") == 5


def _api(answer: dict, status: int = 200):
    """A loopback JSON API that keeps each request and answers `answer`."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_the_remote_api_is_sent_the_page(monkeypatch, tmp_path):
    line = {"polygon": [[10, 10], [90, 10], [90, 40], [10, 40]], "baseline": [[10, 38], [90, 38]]}
    line |= {"id": "line_1", "text": "Le dzé", "confidence": 0.93, "unsure": False, "words": []}
    answer = {"width": 700, "height": 900, "lines": [line], "text": "Le dzé", "calibrated": True}
    answer |= {"model": "api-model", "revision": "r9", "timing_ms": {"find": 1.0, "read": 2.0}}
    server, seen = _api(answer)
    monkeypatch.setattr(page_tab, "FILES", tmp_path)
    monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{server.server_port}/")
    try:
        drawn, text, rows, message, files = page_tab.read_page(_page())
    finally:
        server.shutdown()
    sent = Image.open(io.BytesIO(base64.b64decode(seen[0]["page"])))
    assert list(seen[0]) == ["page"] and sent.size == (700, 900)
    assert text == "Le dzé" and rows == [[1, "93%", "Le dzé"]] and "api-model (r9)" in message


def test_the_remote_api_s_refusal_is_shown(monkeypatch):
    server, _ = _api({"error": "this model file reads single lines only"}, status=400)
    monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{server.server_port}/")
    try:
        message = page_tab.read_page(_page())[3]
    finally:
        server.shutdown()
    assert message == "**Cannot read this page.** This model file reads single lines only."


def test_a_photo_too_big_as_png_is_sent_as_jpeg(monkeypatch):
    monkeypatch.setattr(backend, "MAX_BYTES", 50_000)
    noise = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    sent = base64.b64decode(backend._page_b64(noise))
    assert sent[:3] == b"\xff\xd8\xff" and Image.open(io.BytesIO(sent)).size == (200, 300)
