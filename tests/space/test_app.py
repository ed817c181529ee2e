"""The Space's callbacks, called directly: good input, each bad input, corrections, backends."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from serving import model
from space import app, backend, feedback
from space.readings import READINGS, Readings, UnknownReading
from training.data.kraken import read_kraken_dir

INVOKE = "/2015-03-31/functions/function/invocations"
ROOT = Path(__file__).resolve().parents[2]


def _line(shift: int = 0) -> np.ndarray:
    img = np.full((48, 300, 3), 240, np.uint8)
    img[18:30, 20 + shift : 280 : 5] = 10
    return img


@pytest.fixture
def local(served_model, monkeypatch, tmp_path):
    monkeypatch.delenv("MODEL_URL", raising=False)
    monkeypatch.setattr(feedback, "FEEDBACK_DIR", tmp_path / "feedback")
    return tmp_path / "feedback"


def test_reads_an_image_with_confidence_time_and_revision(local):
    text, conf, words, took, name, note, state = app.read_image(_line())
    assert isinstance(text, str) and conf and took.endswith(" ms") and note
    assert "htr-line-recognizer" in name and state["tab"] == "image"
    assert READINGS.get(state["id"]).text == text


def test_reads_an_uploaded_file_as_gradio_sends_it(local, tmp_path):
    path = tmp_path / "line.png"
    Image.fromarray(_line()).save(path)
    assert app.read_image({"path": str(path), "orig_name": "line.png"})[6] is not None


def test_reads_the_canvas_composite(local):
    drawing = np.zeros((200, 1000, 4), np.uint8)
    drawing[90:110, 100:900:7] = (0, 0, 0, 255)
    out = app.read_drawing({"background": None, "layers": [], "composite": drawing})
    assert isinstance(out[0], str) and out[6]["tab"] == "write"


def _text_file_named_png(tmp_path: Path) -> dict:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    return {"path": str(path), "orig_name": "notes.png"}


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda tmp: app.read_image(None), "No image yet"),
        (lambda tmp: app.read_image(np.zeros((5000, 4000, 3), np.uint8)), "over the limit"),
        (lambda tmp: app.read_image(_text_file_named_png(tmp)), "not an image the Space can"),
        (lambda tmp: app.read_drawing({"composite": np.zeros((200, 1000, 4), np.uint8)}), "empty"),
        (lambda tmp: app.read_drawing(None), "empty"),
    ],
)
def test_bad_inputs_say_what_to_do_without_server_paths(call, needle, tmp_path):
    text, conf, words, took, name, note, state = call(tmp_path)
    assert needle in note and note.startswith("**Cannot read this.**")
    assert (text, conf, words, took, name, state) == ("", "", None, "", "", None)
    assert str(tmp_path) not in note and "/tmp" not in note


def test_new_input_clears_every_shown_output():
    assert app.CLEAR_JS.count("''") + app.CLEAR_JS.count("null") == 8


def test_the_page_names_the_model_source_without_server_folders():
    assert app._public("/srv/x/.hub/htr-line-recognizer.git @ abc123") == (
        "htr-line-recognizer.git @ abc123"
    )
    assert app._public("/srv/models/ref") == "ref" and app._public("org/name @ c") == "org/name @ c"


def test_a_correction_is_stored_with_the_image_that_was_read(local):
    image = _line()
    text, *_, state = app.read_image(image)
    msg = app.save_correction(state, image, None, "  hello   world ")
    assert "saved" in msg
    lines = read_kraken_dir(local)
    assert [s.text for s in lines] == ["hello world"] and lines[0].image.shape == (48, 300)
    meta = json.loads(next(local.glob("*.json")).read_text())
    assert meta["predicted"] == text and meta["reading_id"] == state["id"]
    assert meta["model"] == "htr-line-recognizer" and meta["revision"]
    assert "expired" in app.save_correction(state, image, None, "again")  # once per reading


def test_a_correction_typed_for_another_image_is_refused(local):
    *_, state = app.read_image(_line())
    other = _line(shift=2)  # uploaded after reading, Read not pressed
    assert "image changed" in app.save_correction(state, other, None, "text of the other")
    assert "press Read" in app.save_correction(None, other, None, "text of the other")
    forged = {"id": "0" * 32, "tab": "image"}
    assert "expired" in app.save_correction(forged, other, None, "any text")
    assert not local.exists() or not list(local.iterdir())


def test_an_empty_correction_is_refused(local):
    *_, state = app.read_image(_line())
    assert "correction is empty" in app.save_correction(state, _line(), None, "   ")


def test_readings_expire_and_stay_bounded():
    r = Readings(capacity=2, ttl_s=0.0)
    ids = [r.add(_line(i), "t", 0.5, "m", "v") for i in range(3)]
    with pytest.raises(UnknownReading):
        r.get(ids[0])  # pushed out by the third
    with pytest.raises(UnknownReading):
        r.get(ids[2])  # expired at once with ttl 0


def test_calibrated_outputs_say_when_a_reading_is_unsure(monkeypatch):
    out = {
        "pred": "gratiost bas",
        "confidence": 0.31,
        "unsure": True,
        "calibrated": True,
        "words": [["gratiost", 0.2], ["bas", 0.9]],
        "model": "m",
        "revision": "r",
        "timing_ms": {"predict": 3.0},
    }
    monkeypatch.setattr(backend, "read", lambda image: out)
    text, conf, words, *_, note, _state = app.read_image(_line())
    assert conf == "31% (unsure)" and "Unsure reading" in note
    assert words == [("gratiost", "unsure"), (" ", None), ("bas", None)]
    monkeypatch.setitem(out, "calibrated", False)
    conf, words, note = app.read_image(_line())[1:3] + (app.read_image(_line())[5],)
    assert "uncalibrated" in conf and words is None and "not calibrated" in note


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backend_down_is_a_clear_message(monkeypatch):
    monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{_closed_port()}/invoke")
    note = app.read_image(_line())[5]
    assert "not answering" in note and "127.0.0.1" not in note


@pytest.mark.slow
def test_remote_backend_gives_the_same_result(served_model, running_lambda, monkeypatch):
    with running_lambda(served_model) as port:
        monkeypatch.delenv("MODEL_URL", raising=False)
        local = app.read_image(_line())
        monkeypatch.setenv("MODEL_URL", f"http://127.0.0.1:{port}{INVOKE}")
        remote = app.read_image(_line())
    assert remote[:2] == local[:2] and remote[4] == local[4]


def test_model_loaded_once_through_the_configured_source(tiny_model_file, monkeypatch):
    monkeypatch.setenv("HTR_MODEL_DIR", str(tiny_model_file.parent))
    for var in ("HTR_HUB_REPO_ID", "HTR_MODEL_GIT", "MODEL_URL"):
        monkeypatch.delenv(var, raising=False)
    model.set_loader(backend.load_local_model)
    try:
        assert model.get() is model.get()
        assert app.read_image(_line())[4].startswith("htr-line-recognizer")
        assert model.get().location.endswith(str(tiny_model_file.parent))
    finally:
        model.set_loader(None)


def test_the_accuracy_note_comes_from_the_published_eval(tiny_model_file, monkeypatch):
    evaluation = {"sets": {"copiste-val": {"cer": 0.12, "wer": 0.3, "lines": 9}}}
    (tiny_model_file.parent / "eval.json").write_text(json.dumps(evaluation))
    monkeypatch.setenv("HTR_MODEL_DIR", str(tiny_model_file.parent))
    for var in ("HTR_HUB_REPO_ID", "HTR_MODEL_GIT", "MODEL_URL"):
        monkeypatch.delenv(var, raising=False)
    model.set_loader(backend.load_local_model)
    try:
        assert backend.accuracy_note() == "Measured character error rate (CER): copiste-val 12.0%."
    finally:
        model.set_loader(None)
        (tiny_model_file.parent / "eval.json").unlink()


def test_a_drawing_is_kept_as_ink_on_white_paper(local):
    drawing = np.zeros((200, 1000, 4), np.uint8)  # transparent canvas
    drawing[90:110, 100:900:7] = (0, 0, 0, 255)  # black strokes
    canvas = {"background": None, "layers": [], "composite": drawing}
    *_, state = app.read_drawing(canvas)
    assert "saved" in app.save_correction(state, None, canvas, "a line")
    kept = np.asarray(Image.open(next(local.glob("*.png"))))
    assert kept.shape == (200, 1000) and kept[0, 0] == 255 and kept[100, 100] == 0
