"""The Space's callbacks, called directly: good input, each bad input, backend down or remote."""

from __future__ import annotations

import socket
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from serving import model
from space import app, backend, feedback
from training.data.kraken import read_kraken_dir

INVOKE = "/2015-03-31/functions/function/invocations"

ROOT = Path(__file__).resolve().parents[2]


def _line() -> np.ndarray:
    img = np.full((48, 300, 3), 240, np.uint8)
    img[18:30, 20:280:5] = 10
    return img


def test_reads_an_image_with_confidence_time_and_revision(served_model, monkeypatch):
    monkeypatch.delenv("MODEL_URL", raising=False)
    text, conf, took, name, kept = app.read_image(_line())
    assert isinstance(text, str) and 0 <= conf <= 1 and took.endswith(" ms")
    assert "htr-line-recognizer" in name and kept.shape == (48, 300, 3)


def test_reads_the_canvas_composite(served_model, monkeypatch):
    monkeypatch.delenv("MODEL_URL", raising=False)
    drawing = np.zeros((200, 1000, 4), np.uint8)
    drawing[90:110, 100:900:7] = (0, 0, 0, 255)
    text, *_ = app.read_drawing({"background": None, "layers": [], "composite": drawing})
    assert isinstance(text, str)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: app.read_image(None), "No image yet"),
        (lambda: app.read_image(np.zeros((5000, 4000, 3), np.uint8)), "over the limit"),
        (lambda: app.read_drawing({"composite": np.zeros((200, 1000, 4), np.uint8)}), "empty"),
        (lambda: app.read_drawing(None), "empty"),
        (lambda: app.save_correction(None, "a", "b"), "Read a line first"),
        (lambda: app.save_correction(_line(), "a", "   "), "correction is empty"),
    ],
)
def test_bad_inputs_say_what_to_do(call, needle, tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "FEEDBACK_DIR", tmp_path)
    with pytest.raises(gr.Error, match=needle):
        call()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backend_down_is_a_clear_message(monkeypatch):
    monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{_closed_port()}/invoke")
    with pytest.raises(gr.Error, match="not answering.*unset MODEL_URL"):
        app.read_image(_line())


@pytest.mark.slow
def test_remote_backend_gives_the_same_result(served_model, running_lambda, monkeypatch):
    with running_lambda(served_model) as port:
        monkeypatch.delenv("MODEL_URL", raising=False)
        local = app.read_image(_line())
        monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{port}{INVOKE}")
        remote = app.read_image(_line())
    assert remote[0] == local[0] and remote[1] == pytest.approx(local[1], abs=1e-3)
    assert remote[3] == local[3]


def test_corrections_become_a_readable_line_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "FEEDBACK_DIR", tmp_path / "feedback")
    msg = app.save_correction(_line(), "helo", "  hello   world ")
    assert "saved" in msg
    lines = read_kraken_dir(tmp_path / "feedback")
    assert [s.text for s in lines] == ["hello world"] and lines[0].image.shape == (48, 300)


def test_model_loaded_once_through_the_configured_source(tiny_model_file, monkeypatch):
    monkeypatch.setenv("HTR_MODEL_DIR", str(tiny_model_file.parent))
    for var in ("HTR_HUB_REPO_ID", "HTR_MODEL_GIT", "MODEL_URL"):
        monkeypatch.delenv(var, raising=False)
    model.set_loader(backend.load_local_model)
    try:
        assert model.get() is model.get()
        assert app.read_image(_line())[3].startswith("htr-line-recognizer")
    finally:
        model.set_loader(None)
