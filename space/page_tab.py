"""The Page tab: a whole page in; its lines drawn on it, its text, each line's confidence and
the .txt and PAGE-XML to download. Also how a line tab answers an image that is a page."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from serving.errors import ServingError
from serving.page_formats import to_page_xml, to_text
from space import backend, inputs, page_view

log = logging.getLogger("space.page")
FILES = Path(tempfile.gettempdir()) / "htr-space-pages"  # Gradio serves files under the temp dir
KEEP = 64  # readings whose downloads stay on disk; older folders are removed
LINES_ONLY = (
    "**This model reads single lines only**: its file has no line finder, so it cannot find "
    "the lines of a page. Crop one line and read it on the **Image** tab, or serve a model "
    "exported with a finder (`python -m release.export --finder`)."
)
# A new page empties the outputs in the browser at once (a server round trip could land
# after the next reading): drawn page, text, lines, message, downloads.
CLEAR_JS = "() => [null, '', null, '', null]"
# Outputs of a page reading: drawn page, text, line rows, message, the .txt and PAGE-XML
PageOutputs = tuple[Any, str, list | None, str, list[str] | None]
LineOutputs = tuple[str, str, None, str, str, str, None]  # as app.Outputs, without a reading id


def _problem(message: str) -> PageOutputs:
    return None, "", None, message, None


def _sentence(error: Exception) -> str:
    text = str(error)
    return f"{text[:1].upper()}{text[1:]}."


def _name(value: Any) -> str:
    """The upload's file name for the PAGE-XML's imageFilename (a pasted image has none)."""
    given = value.get("orig_name") if isinstance(value, dict) else None
    name = Path(str(given or "page.png")).name
    return re.sub(r"[^\w.-]", "_", name) or "page.png"  # a safe download name, no server path


def _files(page: dict, image_name: str) -> tuple[Path, Path]:
    """The page as .txt and PAGE-XML in a fresh folder; the oldest folders beyond KEEP go."""
    FILES.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=FILES))
    stem = Path(image_name).stem
    txt, xml = folder / f"{stem}.txt", folder / f"{stem}.xml"
    txt.write_text(to_text(page), encoding="utf-8")
    xml.write_text(to_page_xml(page, image_name), encoding="utf-8")
    folders = sorted(FILES.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in folders[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return txt, xml


def _took(page: dict) -> str:
    timing = page.get("timing_ms") or {}
    return f"{timing.get('find', 0) + timing.get('read', 0):.0f} ms"


def _summary(page: dict) -> str:
    """The message line of a page reading: how many lines, which to check, how long."""
    lines, calibrated = page["lines"], bool(page.get("calibrated"))
    doubtful = sum(page_view.unsure(line, calibrated) for line in lines)
    said = f"**{len(lines)} line{'s' * (len(lines) != 1)}** found and read in {_took(page)}"
    said += f" by {page.get('model')} ({page.get('revision')})."
    if doubtful:
        said += f" **{doubtful} unsure** (orange, marked in the table): check them by eye."
    if not calibrated:
        said += " This model's scores are not calibrated: compare lines with them, no more."
    return said


def read_page(value: Any) -> PageOutputs:
    """Find, draw and read the lines of an uploaded, pasted or photographed page."""
    try:
        image = inputs.to_array(value, inputs.PAGE)
    except inputs.InputProblem as e:
        return _problem(f"**Cannot read this page.** {e}")
    if image is None:
        return _problem("**No page yet**: upload, paste or photograph a page, then press Read.")
    try:
        if not backend.reads_pages():
            return _problem(LINES_ONLY)
        page = backend.read_page(image)
    except ServingError as e:
        return _problem(f"**Cannot read this page.** {_sentence(e)}")
    lines = len(page["lines"])
    log.info("page %dx%d: %d lines in %s", page["width"], page["height"], lines, _took(page))
    drawn = page_view.draw(image, page)
    if not lines:
        blank = (
            "**No lines found** on this page: is it blank, is the writing very faint, or is "
            "the page sideways or upside down? Turn it so that its lines run left to right."
        )
        return drawn, "", None, blank, None
    files = [str(path) for path in _files(page, _name(value))]
    return drawn, page["text"], page_view.rows(page), _summary(page), files


def in_line_tab(image: np.ndarray) -> LineOutputs | None:
    """A page sent to a line tab, read as a page when the model can; None when it cannot
    or finds no line on it."""
    try:
        if not backend.reads_pages():
            return None
        page = backend.read_page(image)
    except ServingError as e:
        log.info("a page-like image could not be read as a page: %s", e)
        return None
    lines, calibrated = page["lines"], bool(page.get("calibrated"))
    if not lines:  # maybe one big word after all: the line reading, with its note, says more
        return None
    doubtful = sum(page_view.unsure(line, calibrated) for line in lines)
    confidence = f"{doubtful} of {len(lines)} lines unsure" if calibrated else "uncalibrated"
    note = (
        f"**This looks like a page, not one line**, so it was read as one: {len(lines)} "
        "lines, in reading order. The **Page** tab draws them on the image, gives each "
        "line's confidence and the PAGE-XML. Corrections here are for single lines."
    )
    model = f"{page.get('model')} ({page.get('revision')})"
    return page["text"], confidence, None, _took(page), model, note, None


def not_a_line(image: np.ndarray) -> str:
    """The note beside a line reading of an image that looks like a page."""
    height, width = image.shape[:2]
    return (
        f"**This looks like a page ({width}x{height} px), not one line**: the reading below "
        "treats it as a single line and is likely wrong. Crop one line, or read it on the "
        "**Page** tab."
    )


def build_tab() -> gr.Tab:
    """The Page tab's widgets and events (inside the app's gr.Tabs)."""
    with gr.Tab("Page", elem_id="page-tab") as tab:
        gr.Markdown(
            "A whole handwritten page: its lines are found, drawn and numbered on it, and read "
            f"in order. PNG, JPEG or WebP up to 5 MB and {inputs.PAGE.pixels // 10**6} megapixels."
        )
        page = gr.Image(
            sources=["upload", "clipboard", "webcam"],
            type="numpy",
            image_mode="RGB",
            label="Page image",
            elem_id="page-image",
        )
        read_btn = gr.Button("Read page", variant="primary", elem_id="read-page")
        message = gr.Markdown(elem_id="page-message")
        with gr.Row():
            drawn = gr.Image(label="Lines found", interactive=False, elem_id="page-drawn")
            text = gr.Textbox(label="Text", lines=12, buttons=["copy"], elem_id="page-text")
        rows = gr.Dataframe(
            headers=["Line", "Confidence", "Text"],
            interactive=False,
            wrap=True,
            label="Lines (unsure ones marked)",
            elem_id="page-lines",
        )
        files = gr.File(
            label="Download: the text (.txt) and PAGE-XML (.xml)",
            file_count="multiple",
            interactive=False,
            elem_id="page-files",
        )
        outputs = [drawn, text, rows, message, files]
        # preprocess=False: our own decoding, with clear messages and no server paths
        read_btn.click(read_page, page, outputs, api_name="read_page", preprocess=False)
        page.change(None, None, outputs, js=CLEAR_JS, show_progress="hidden")
    return tab
