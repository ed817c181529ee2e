"""The real page in headless Chromium: upload and read, a bad file, write and read, correct,
and a whole page read on the Page tab with its PAGE-XML downloaded.

Written to survive a busy machine: each step gets a fresh page, waits on the page's own
signals (an output filled in, a message shown) with generous timeouts, never on fixed sleeps
for results, and only Chromium's launch is retried.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ROOT / "artifacts"
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
WAIT_MS = 120_000  # a loaded 2-core machine can take tens of seconds per step

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def space_url(tiny_model_file, tmp_path_factory):
    port = _free_port()
    env = {
        **os.environ,
        "HTR_MODEL_DIR": str(tiny_model_file.parent),
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HTR_FEEDBACK_DIR": str(tmp_path_factory.mktemp("fb")),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("MODEL_URL", None)
    # app.main as served, its model behind a stub finder: the tiny model finds no real lines
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/space/stub_finder_space.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url, t0 = f"http://127.0.0.1:{port}/", time.perf_counter()
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 240:
                    raise RuntimeError(proc.stderr.read().decode()[-3000:]) from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        for attempt in range(3):  # only the launch is retried: Chromium can fail to start
            try:
                b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=WAIT_MS)
                break
            except Error:
                if attempt == 2:
                    raise
                time.sleep(2)
        yield b
        b.close()


@pytest.fixture
def page(browser, space_url):
    """A fresh page on the loaded Space, closed after the step."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(space_url, timeout=WAIT_MS)
    pg.wait_for_selector("#read-image")
    yield pg
    context.close()


def _value(page, elem_id: str) -> str:
    return page.input_value(f"#{elem_id} textarea, #{elem_id} input")


def _wait_filled(page, elem_id: str) -> str:
    page.wait_for_function(
        "id => { const e = document.querySelector(`#${id} textarea, #${id} input`);"
        " return e && e.value !== ''; }",
        arg=elem_id,
        timeout=WAIT_MS,
    )
    return _value(page, elem_id)


def _upload(page, path: Path) -> None:
    page.locator("#line-image input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#line-image img", timeout=WAIT_MS)


def test_upload_and_read_then_correct(page):
    _upload(page, ROOT / "space/examples/example-1.png")
    assert _value(page, "time") == ""  # no number before there is one
    page.click("#read-image")
    assert _wait_filled(page, "time").endswith("ms")
    assert _value(page, "confidence") != ""
    page.get_by_text("Wrong reading? Correct it").click()
    box = "#correction textarea, #correction input"
    # a late change event of the uploaded image may still clear the box on a busy machine
    # (a new image clears the old reading): type again until the text stays
    for _ in range(3):
        page.fill(box, "a corrected line")
        page.wait_for_timeout(300)
        if page.input_value(box) == "a corrected line":
            break
    assert page.input_value(box) == "a corrected line" and _value(page, "time").endswith("ms")
    page.click("#save-correction")
    page.wait_for_function(  # the answer, not Gradio's "queue" or "processing" notes
        "() => /Thank you|Not saved|Nothing|expired|changed/"
        ".test(document.querySelector('#thanks').innerText)",
        timeout=WAIT_MS,
    )
    assert "saved as" in page.inner_text("#thanks"), page.inner_text("#thanks")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "space.png"), full_page=True)
    assert (SHOTS / "space.png").stat().st_size > 10_000
    page.click("#use-example-0")  # another image: the old reading must not stay beside it
    page.wait_for_function(
        "() => document.querySelector('#time textarea, #time input').value === ''",
        timeout=WAIT_MS,
    )
    assert _value(page, "text") == "" and _value(page, "confidence") == ""


def test_a_file_that_is_not_an_image_gets_a_clean_message(page, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image")
    _upload(page, fake)  # shown as a broken picture once it has arrived
    page.click("#read-image")
    page.wait_for_selector("#message :text('Cannot read this')", timeout=WAIT_MS)
    shown, body = page.inner_text("#message"), page.inner_text("body")
    assert "not an image the Space can read" in shown and "PNG, JPEG or WebP" in shown
    assert str(tmp_path) not in body and "gradio" not in shown.lower()
    assert "Traceback" not in body and "UnidentifiedImageError" not in body


def test_the_canvas_is_ready_to_write_on(page):
    page.get_by_role("tab", name="Write").click()
    canvas = page.locator("#canvas canvas").last
    canvas.wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_function(  # the brush is chosen for the visitor, no click on a tool
        "() => { const b = document.querySelector('#canvas button[aria-label=\"Brush\"]');"
        " return b && b.classList.contains('highlight'); }",
        timeout=WAIT_MS,
    )
    box = canvas.bounding_box()
    assert box, "no canvas on the Write tab"
    x, y = box["x"] + 200, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(40):  # a zigzag in small steps, so the editor samples a stroke
        page.mouse.move(x + k * 15, y + (20 if k % 4 < 2 else -20), steps=4)
    page.mouse.up()
    page.click("#read-drawing")
    assert _wait_filled(page, "time").endswith("ms")
    assert "Cannot read this" not in page.inner_text("#message")


def _page_image(path: Path) -> Path:
    """A page of three rows of strokes on paper: three lines for the stub finder."""
    img = np.full((900, 700, 3), 245, np.uint8)
    for top, bottom in ((100, 140), (220, 250), (330, 380)):
        img[top:bottom, 60:640:9] = 20
    Image.fromarray(img).save(path)
    return path


def test_a_page_is_read_drawn_and_its_page_xml_downloaded(page, tmp_path):
    page.get_by_role("tab", name="Page").click()
    page.locator("#page-image input[type=file]").set_input_files(
        str(_page_image(tmp_path / "letter.png"))
    )
    page.wait_for_selector("#page-image img", timeout=WAIT_MS)
    assert not page.is_visible("#time")  # the line tabs' outputs are not on this tab
    page.click("#read-page")
    text = _wait_filled(page, "page-text")
    assert len(text.split("\n")) == 3, text
    page.wait_for_function(  # the page with its lines drawn, loaded in the browser
        "() => { const i = document.querySelector('#page-drawn img');"
        " return i && i.complete && i.naturalWidth === 700; }",
        timeout=WAIT_MS,
    )
    assert "3 lines" in page.inner_text("#page-message")
    xml_row = page.locator("#page-files tr", has=page.locator(".ext", has_text="xml"))
    link = xml_row.locator("td.download a")  # the row shows the name; its link, the size
    with page.expect_download(timeout=WAIT_MS) as download:
        link.click()
    saved = tmp_path / "downloaded.xml"
    download.value.save_as(saved)
    root = ET.parse(saved).getroot()
    assert root.tag == f"{{{PAGE_NS}}}PcGts"
    assert len(root.findall(f".//{{{PAGE_NS}}}TextLine")) == 3
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "space-page.png"), full_page=True)
