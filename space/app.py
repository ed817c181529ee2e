"""The Gradio app (a Hugging Face Space): read a handwritten line from an image or a drawing."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script (`python space/app.py`, or on a Space)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from serving.errors import ServingError  # noqa: E402
from serving.images import MAX_PIXELS  # noqa: E402
from space import backend, feedback  # noqa: E402

log = logging.getLogger("space")
EXAMPLES = Path(__file__).resolve().parent / "examples"
MAX_UPLOAD = "5mb"
TITLE = "Handwriting line recognizer"


def _check(image: np.ndarray | None) -> np.ndarray:
    if image is None or image.size == 0:
        raise gr.Error("No image yet: upload, paste or photograph a line, or draw one.")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise gr.Error(
            f"The image has {image.shape[0] * image.shape[1]:,} pixels, over the "
            f"limit of {MAX_PIXELS:,}: crop it to the text line."
        )
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def read_image(image: np.ndarray | None) -> tuple[str, float, str, str, np.ndarray]:
    """Recognise one line image; returns text, confidence, time, model and the image."""
    image = _check(image)
    try:
        out = backend.read(image)
    except ServingError as e:
        raise gr.Error(str(e)) from None
    timing = f"{out['timing_ms'].get('total', out['timing_ms']['predict']):.0f} ms"
    return (
        out["pred"],
        round(float(out["confidence"]), 3),
        timing,
        f"{out['model']} ({out['revision']})",
        image,
    )


def read_drawing(drawing: dict | np.ndarray | None) -> tuple[str, float, str, str, np.ndarray]:
    """Recognise what was drawn on the canvas (its composite layer)."""
    image = drawing.get("composite") if isinstance(drawing, dict) else drawing
    if image is None or (image.ndim == 3 and image.shape[2] == 4 and not image[..., 3].any()):
        raise gr.Error("The canvas is empty: write a line with the mouse or a finger first.")
    return read_image(image)


def save_correction(image: np.ndarray | None, predicted: str, corrected: str) -> str:
    """Keep a user's correction as training data."""
    if image is None:
        raise gr.Error("Read a line first, then correct it.")
    try:
        path = feedback.save(image, predicted, corrected)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return f"Thank you: saved as `{path.name}`."


def build() -> gr.Blocks:
    """The interface; every callback above is a plain function tests call directly."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nOne line of handwritten French or English text in, its text "
            "out. Upload, paste or photograph a line, or write one on the canvas."
        )
        last = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Image"):
                image = gr.Image(
                    sources=["upload", "clipboard", "webcam"],
                    type="numpy",
                    image_mode="RGB",
                    label="Line image",
                    elem_id="line-image",
                )
                read_btn = gr.Button("Read", variant="primary", elem_id="read-image")
                examples = sorted(str(p) for p in EXAMPLES.glob("*.png"))
                if examples:
                    gr.Examples(examples=examples, inputs=image)
            with gr.Tab("Write", elem_id="write-tab"):
                canvas = gr.Sketchpad(
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(1000, 200),
                    brush=gr.Brush(default_size=6, colors=["#000000"]),
                    label="Write a line",
                    elem_id="canvas",
                )
                draw_btn = gr.Button("Read drawing", variant="primary", elem_id="read-drawing")
        text = gr.Textbox(label="Text", buttons=["copy"], elem_id="text")
        with gr.Row():
            confidence = gr.Number(label="Confidence", elem_id="confidence")
            took = gr.Textbox(label="Time", elem_id="time")
            model = gr.Textbox(label="Model and revision", elem_id="model")
        with gr.Accordion("Wrong reading? Correct it", open=False):
            corrected = gr.Textbox(label="The right text", elem_id="correction")
            flag_btn = gr.Button("Save correction", elem_id="save-correction")
            thanks = gr.Markdown()
        outputs = [text, confidence, took, model, last]
        read_btn.click(read_image, image, outputs, api_name="read_image")
        draw_btn.click(read_drawing, canvas, outputs, api_name="read_drawing")
        flag_btn.click(save_correction, [last, text, corrected], thanks, api_name="correct")
    return demo


def main() -> None:
    """Serve on 127.0.0.1:7860 (a Space sets GRADIO_SERVER_NAME=0.0.0.0 itself)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from serving import model

    if not os.environ.get("MODEL_URL"):
        model.set_loader(backend.load_local_model)
        loaded = model.get()  # load before the first visitor, once per process
        log.info("model %s (%s) ready", loaded.name, loaded.revision)
    demo = build()
    demo.queue(default_concurrency_limit=2, max_size=32)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        max_file_size=MAX_UPLOAD,
        show_error=True,
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
