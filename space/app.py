"""The Gradio app (a Hugging Face Space): read a handwritten line from an image or a drawing."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script (`python space/app.py`, or on a Space)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from serving.errors import ServingError  # noqa: E402
from serving.recognize import UNSURE_BELOW  # noqa: E402
from space import backend, feedback, inputs, page_tab, page_view  # noqa: E402
from space.readings import READINGS, UnknownReading, digest  # noqa: E402

log = logging.getLogger("space")
EXAMPLES = Path(__file__).resolve().parent / "examples"
TITLE = "Handwriting line recognizer"
# Outputs of a reading: text, confidence, words, time, model, message, reading state
Outputs = tuple[str, str, list | None, str, str, str, dict | None]
# The canvas starts with no tool chosen: choose the brush so a visitor can write at once.
PICK_BRUSH = """() => { setTimeout(() => {
  const b = document.querySelector('#canvas button[aria-label="Brush"]');
  if (!b) return;
  b.click();
  b.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
}, 200); }"""


def _problem(message: str) -> Outputs:
    return ("", "", None, "", "", f"**Cannot read this.** {message}", None)


def _confidence(out: dict) -> tuple[str, str]:
    """The confidence as people should read it, and a plain sentence about it."""
    c = float(out["confidence"])
    if not out.get("calibrated"):
        return f"{c:.2f} (uncalibrated)", (
            "This model's score is not calibrated: use it to compare readings, not as a chance."
        )
    pct = round(100 * c)
    unsure = out.get("unsure")
    if unsure or (unsure is None and c < UNSURE_BELOW):
        return f"{pct}% (unsure)", (
            f"**Unsure reading**: a {pct}% chance that at most 1 character in 10 is wrong. "
            "Check it against the image; uncertain words are marked."
        )
    return f"{pct}%", f"A {pct}% chance that at most 1 character in 10 is wrong."


def _words(out: dict) -> list[tuple[str, str | None]] | None:
    """Each word, marked `unsure` when its own calibrated chance of being right is low."""
    words = out.get("words")
    if not words or not out.get("calibrated"):
        return None
    marked: list[tuple[str, str | None]] = []
    for word, conf in words:
        unsure = conf is not None and conf < UNSURE_BELOW
        marked += [(word, "unsure" if unsure else None), (" ", None)]
    return marked[:-1]


def _read(image: np.ndarray, tab: str) -> Outputs:
    page = page_view.looks_like_page(image)  # never a silent one-letter reading of a page
    if page and (as_page := page_tab.in_line_tab(image)) is not None:
        return as_page
    try:
        out = backend.read(image)
    except ServingError as e:
        return _problem(f"{str(e)[:1].upper()}{str(e)[1:]}.")
    rid = READINGS.add(image, out["pred"], float(out["confidence"]), out["model"], out["revision"])
    confidence, note = _confidence(out)
    note = f"{page_tab.not_a_line(image)} {note}" if page else note
    timing = f"{out['timing_ms'].get('total', out['timing_ms']['predict']):.0f} ms"
    model = f"{out['model']} ({out['revision']})"
    return out["pred"], confidence, _words(out), timing, model, note, {"id": rid, "tab": tab}


def read_image(value: Any) -> Outputs:
    """Read one line from an uploaded, pasted or photographed image (or an array)."""
    try:
        image = inputs.to_array(value)
    except inputs.InputProblem as e:
        return _problem(str(e))
    if image is None:
        return _problem("No image yet: upload, paste or photograph a line, or write one.")
    return _read(image, "image")


def read_drawing(value: Any) -> Outputs:
    """Read what was written on the canvas (its flattened layers)."""
    try:
        image = inputs.to_array(value)
    except inputs.InputProblem as e:
        return _problem(str(e))
    if not inputs.drawn(image):
        return _problem("The canvas is empty: write a line with the mouse or a finger first.")
    assert image is not None
    return _read(image, "write")


def save_correction(state: dict | None, image: Any, drawing: Any, corrected: str) -> str:
    """Keep a correction with exactly the image that was read, or say why it cannot be."""
    if not state or not state.get("id"):
        return "Nothing to correct yet: press Read for this image first, then correct it."
    if not " ".join(corrected.split()):
        return "Not saved: the correction is empty; type the text the image really shows."
    try:
        reading = READINGS.get(state["id"])
    except UnknownReading:
        return "That reading has expired: press Read again, then correct it."
    try:
        current = inputs.to_array(image if state.get("tab") == "image" else drawing)
    except inputs.InputProblem:
        current = None
    if current is not None and digest(current) != reading.digest:
        return "The image changed since it was read: press Read for it first, then correct it."
    try:
        reading = READINGS.take(state["id"])
    except UnknownReading:
        return "That reading has expired: press Read again, then correct it."
    path = feedback.save(reading, state["id"], corrected)
    return f"Thank you: saved as `{path.name}` with the image that was read."


# A new image empties the outputs in the browser at once (a server round trip could land
# after the next reading): text, confidence, words, time, model, message, thanks, correction.
CLEAR_JS = "() => ['', '', null, '', '', '', '', '']"


def _public(location: str) -> str:
    """Where the model came from, without the server's folders: a path shows its last part."""
    where, _, commit = location.partition(" @ ")
    if where.startswith(("/", ".")):
        where = Path(where).name
    return f"{where} @ {commit}" if commit else where


def examples() -> list[tuple[str, str]]:
    """Example lines with their text (and credit): real ones first, when they were made."""
    found = []
    for png in sorted(EXAMPLES.glob("real/*.png")) + sorted(EXAMPLES.glob("*.png")):
        txt, credit = png.with_suffix(".txt"), png.with_suffix(".credit")
        caption = txt.read_text(encoding="utf-8").strip() if txt.exists() else png.stem
        if credit.exists():
            caption += f"  ({credit.read_text(encoding='utf-8').strip()})"
        found.append((str(png), caption))
    return found


def _use(path: str):
    """A callback that loads one example into the image input."""
    return lambda: path


def build(about: str = "") -> gr.Blocks:
    """The interface; every callback above is a plain function tests call directly."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nOne line of handwritten French or English text in, its text out: "
            f"upload, paste or photograph a line, or write one on the canvas. {inputs.LIMITS}"
            + (f"\n\n{about}" if about else "")
        )
        state = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Image") as image_tab:
                image = gr.Image(
                    sources=["upload", "clipboard", "webcam"],
                    type="numpy",
                    image_mode="RGB",
                    label="Line image",
                    elem_id="line-image",
                )
                read_btn = gr.Button("Read", variant="primary", elem_id="read-image")
                shown = examples()
                if shown:
                    gr.Markdown("**Examples**: press *Use* to load a line, then *Read*.")
                for k, (path, caption) in enumerate(shown):
                    with gr.Row(equal_height=True):
                        gr.Image(
                            path,
                            label=caption,
                            interactive=False,
                            height=96,
                            buttons=[],
                            scale=6,
                            elem_classes=["example"],
                        )
                        use = gr.Button("Use", size="sm", scale=1, elem_id=f"use-example-{k}")
                    use.click(_use(path), None, image, show_progress="hidden")
            with gr.Tab("Write", elem_id="write-tab") as write_tab:
                canvas = gr.Sketchpad(
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(1000, 200),
                    brush=gr.Brush(default_size=6, colors=["#000000"]),
                    label="Write a line",
                    elem_id="canvas",
                )
                draw_btn = gr.Button("Read drawing", variant="primary", elem_id="read-drawing")
            pages = page_tab.build_tab()
        with gr.Column() as line_outputs:  # the line tabs' outputs, hidden on the Page tab
            message = gr.Markdown(elem_id="message")
            text = gr.Textbox(label="Text", buttons=["copy"], elem_id="text")
            words = gr.HighlightedText(
                label="Words (uncertain ones marked)",
                color_map={"unsure": "orange"},
                combine_adjacent=False,
                elem_id="words",
            )
            with gr.Row():
                confidence = gr.Textbox(label="Confidence", elem_id="confidence")
                took = gr.Textbox(label="Time", elem_id="time")
                model = gr.Textbox(label="Model and revision", elem_id="model")
            with gr.Accordion("Wrong reading? Correct it", open=False):
                corrected = gr.Textbox(label="The right text", elem_id="correction")
                flag_btn = gr.Button("Save correction", elem_id="save-correction")
                thanks = gr.Markdown(elem_id="thanks")
        outputs = [text, confidence, words, took, model, message, state]
        # preprocess=False: our own decoding, with clear messages and no server paths
        read_btn.click(read_image, image, outputs, api_name="read_image", preprocess=False)
        draw_btn.click(read_drawing, canvas, outputs, api_name="read_drawing", preprocess=False)
        # A new image clears the old reading; the canvas changes with every stroke, so a
        # reading of it stays until the next one (a correction still checks the drawing).
        shown_outputs = [text, confidence, words, took, model, message, thanks, corrected]
        image.change(None, None, shown_outputs, js=CLEAR_JS, show_progress="hidden")
        for tab in (image_tab, write_tab):  # a reading belongs to the tab that made it
            tab.select(
                lambda: (None, gr.update(visible=True)), None, [state, line_outputs], queue=False
            )
        pages.select(
            lambda: (None, gr.update(visible=False)), None, [state, line_outputs], queue=False
        )
        flag_btn.click(
            save_correction,
            [state, image, canvas, corrected],
            thanks,
            api_name="correct",
            preprocess=False,
        )
        write_tab.select(None, None, None, js=PICK_BRUSH)
    return demo


def main() -> None:
    """Serve on 127.0.0.1:7860 (a Space sets GRADIO_SERVER_NAME=0.0.0.0 itself)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from serving import model

    about = ""
    if not os.environ.get("MODEL_URL"):
        model.set_loader(backend.load_local_model)
        loaded = model.get()  # load before the first visitor, once per process
        log.info("model %s (%s) ready", loaded.name, loaded.revision)
        about = (
            f"Model: {loaded.name} ({loaded.revision}), from {_public(loaded.location)}. "
            f"{backend.accuracy_note()}"
        )
    demo = build(about)
    demo.queue(default_concurrency_limit=2, max_size=32)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        max_file_size=inputs.MAX_UPLOAD,
        show_error=False,
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
