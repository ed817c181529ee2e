"""The real page in headless Chromium: load, upload a line, read it, draw, read, screenshot."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ROOT / "artifacts"

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
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "space/app.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError(proc.stderr.read().decode()[-3000:]) from None
                time.sleep(0.2)
        print(f"\nSpace ready in {time.perf_counter() - t0:.1f} s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_for_time(page) -> str:
    page.wait_for_function(
        "() => { const e = document.querySelector('#time textarea, #time input');"
        " return e && e.value.endsWith('ms'); }",
        timeout=60_000,
    )
    return page.input_value("#text textarea, #text input")


def _clear_time(page) -> None:
    # The input event tells the component its value is now empty: setting the DOM value alone
    # left the old value in the component, so a second read that took the same whole number of
    # milliseconds ("9 ms" twice) changed nothing and the test waited until it timed out.
    page.evaluate(
        "(() => { const e = document.querySelector('#time textarea, #time input');"
        " e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )


def test_upload_read_draw_read_screenshot(space_url):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        t0 = time.perf_counter()
        page.goto(space_url)
        page.wait_for_selector("#read-image")
        load_s = time.perf_counter() - t0
        page.locator("#line-image input[type=file]").set_input_files(
            str(ROOT / "space/examples/example-1.png")
        )
        page.wait_for_timeout(500)
        t1 = time.perf_counter()
        page.click("#read-image")
        text = _wait_for_time(page)
        upload_s = time.perf_counter() - t1
        assert isinstance(text, str)
        page.get_by_role("tab", name="Write").click()
        page.click("#canvas button[aria-label='Brush']")  # the canvas starts with no tool
        page.keyboard.press("Escape")  # close the brush options that the click opens
        page.wait_for_timeout(300)
        box = page.locator("#canvas canvas").last.bounding_box()
        assert box, "no canvas on the Write tab"
        x, y = box["x"] + 200, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        for k in range(40):  # a zigzag, slowly enough for the editor to sample it
            page.mouse.move(x + k * 15, y + (20 if k % 4 < 2 else -20), steps=4)
            page.wait_for_timeout(10)
        page.mouse.up()
        page.wait_for_timeout(300)
        _clear_time(page)
        t2 = time.perf_counter()
        page.click("#read-drawing")
        drawn = _wait_for_time(page)
        draw_s = time.perf_counter() - t2
        assert isinstance(drawn, str)
        page.screenshot(path=str(SHOTS / "space.png"), full_page=True)
        browser.close()
    print(
        f"page load {load_s:.2f} s, upload request {upload_s:.2f} s, drawing request {draw_s:.2f} s"
    )
    assert (SHOTS / "space.png").stat().st_size > 10_000
