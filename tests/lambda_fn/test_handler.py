"""The Lambda handler, in-process, on JSON event fixtures."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).parent / "events"


def _load_handler():
    # "lambda" is a Python keyword: load the file as a module, as the Lambda runtime does.
    spec = importlib.util.spec_from_file_location("htr_lambda_handler", ROOT / "lambda/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler_module = _load_handler()


class Context:
    aws_request_id = "test-request-42"


def call(event) -> tuple[int, dict, dict]:
    out = handler_module.handler(event, Context())
    return out["statusCode"], out["headers"], json.loads(out["body"])


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("name", ["direct.json", "direct_data_url.json", "function_url.json"])
def test_single_image_events(served_model, name):
    status, headers, body = call(event(name))
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert isinstance(body["pred"], str) and 0 <= body["confidence"] <= 1
    assert body["model"] and body["revision"] and body["request_id"] == "test-request-42"
    assert body["timing_ms"]["total"] >= body["timing_ms"]["predict"] >= 0


@pytest.mark.parametrize("name, n", [("direct_batch.json", 3), ("function_url_base64.json", 1)])
def test_batch_events(served_model, name, n):
    status, _, body = call(event(name))
    assert status == 200 and len(body["preds"]) == len(body["confidences"]) == n


@pytest.mark.parametrize(
    "name, needle",
    [
        ("malformed_json.json", "not valid JSON"),
        ("missing_field.json", 'no "image", "images" or "page" field'),
        ("bad_base64.json", "not valid base64"),
        ("not_an_image.json", "not a readable image"),
        ("images_not_a_list.json", '"images" is a string'),
    ],
)
def test_bad_requests_get_400_saying_what_to_send(served_model, name, needle):
    status, headers, body = call(event(name))
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert needle in body["error"] and body["request_id"] == "test-request-42"


MISSING_FIELD = (
    'no "image", "images" or "page" field in the request (its fields: "picture"); send '
    '{"image": "<base64 of a PNG or JPEG line image>"}, {"images": ["<base64>", "<base64>"]} '
    'or {"page": "<base64 of a PNG or JPEG page scan>"}'
)


def test_missing_field_message_is_exact():
    status, _, body = call(event("missing_field.json"))
    assert status == 400 and body["error"] == MISSING_FIELD


def _examples(message: str) -> list[str]:
    """The {...} examples in a message (outermost braces)."""
    found, depth, start = [], 0, 0
    for i, ch in enumerate(message):
        if ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                found.append(message[start : i + 1])
    return found


BAD_EVENTS = [
    ["not", "an", "object"],
    {},
    {"image": 7},
    {"image": ""},
    {"images": []},
    {"images": {"a": 1}},
    {"body": {"image": "x"}},
    {"body": "", "isBase64Encoded": False},
    {"body": "[1, 2]", "isBase64Encoded": False},
    {"body": "{not json", "isBase64Encoded": False},
    {"body": "@@@", "isBase64Encoded": True},
    {"page": ""},
    {"page": 7},
    {"page": "iVBORw0KGgo=", "image": "iVBORw0KGgo="},
    {"page": "iVBORw0KGgo=", "images": ["iVBORw0KGgo="]},
]


FIXTURES = ["missing_field.json", "malformed_json.json", "images_not_a_list.json"]


@pytest.mark.parametrize("bad", BAD_EVENTS + [event(name) for name in FIXTURES])
def test_every_refusal_says_what_to_send_with_valid_json_examples(bad):
    status, _, body = call(bad)
    message = body["error"]
    assert status == 400 and "send" in message, message
    assert "{{" not in message and "}}" not in message and "Traceback" not in message
    examples = _examples(message)
    assert examples, message
    for example in examples:
        json.loads(example)  # each example is JSON a caller can send


def test_batch_errors_name_the_image(served_model):
    ok = event("direct.json")["image"]
    status, _, body = call({"images": [ok, "@@@"]})
    assert status == 400 and body["error"].startswith("images[1]: image is not valid base64")


def _fake_model(seconds: float = 0.5):
    from serving import model

    return model.LoadedModel(module=None, name="fake", revision="r1", load_seconds=seconds)


@pytest.fixture
def fake_model(monkeypatch):
    """The serving core's model replaced by a fake; `calls` counts its loads."""
    from serving import model

    calls: list[int] = []
    model.set_loader(lambda: calls.append(1) or _fake_model())
    yield calls
    model.set_loader(None)


def test_single_image_response_unwraps_every_per_image_list(fake_model, monkeypatch):
    def richer(images):
        n = len(images)
        return {
            "preds": ["a cat"] * n,
            "confidences": [0.9] * n,
            "words": [[["a", 0.95], ["cat", 0.85]]] * n,
            "unsure": [False] * n,
            "calibrated": True,
            "model": "fake",
            "revision": "r1",
            "timing_ms": {"predict": 1.0},
        }

    monkeypatch.setattr(handler_module, "recognize", richer)
    _, _, one = call(event("direct.json"))
    assert (one["pred"], one["confidence"], one["unsure"]) == ("a cat", 0.9, False)
    assert one["words"] == [["a", 0.95], ["cat", 0.85]] and one["calibrated"] is True
    assert not {"preds", "confidences"} & set(one)
    _, _, many = call(event("direct_batch.json"))
    assert many["words"] == [[["a", 0.95], ["cat", 0.85]]] * 3 and many["unsure"] == [False] * 3


def _fake_recognize(images):
    from serving import model

    model.get()
    return {
        "preds": ["x"],
        "confidences": [1.0],
        "model": "fake",
        "revision": "r1",
        "timing_ms": {"predict": 1.0},
    }


def test_lazy_load_reports_the_cold_start_once(fake_model, monkeypatch):
    module = _load_handler()  # HTR_LOAD_AT_INIT unset: importing loads nothing
    assert fake_model == []
    monkeypatch.setattr(module, "recognize", _fake_recognize)
    first = json.loads(module.handler(event("direct.json"), Context())["body"])
    second = json.loads(module.handler(event("direct.json"), Context())["body"])
    assert first["timing_ms"]["load"] == 500.0 and "load" not in second["timing_ms"]
    assert fake_model == [1]


def test_load_at_init_flag_loads_while_importing(fake_model, monkeypatch):
    monkeypatch.setenv("HTR_LOAD_AT_INIT", "1")
    module = _load_handler()
    assert fake_model == [1]
    monkeypatch.setattr(module, "recognize", _fake_recognize)
    first = json.loads(module.handler(event("direct.json"), Context())["body"])
    assert "load" not in first["timing_ms"] and fake_model == [1]


def _png_b64(size) -> str:
    buf = io.BytesIO()
    Image.new("1", size).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_oversized_payload_and_pixels_get_413(served_model):
    big = {"body": json.dumps({"image": "A" * (7 * 2**20)}), "isBase64Encoded": False}
    assert call(big)[0] == 413
    status, _, body = call({"image": _png_b64((30000, 30000))})
    assert status == 413 and "pixels" in body["error"]


def test_our_failure_is_500_with_request_id_and_no_internals(served_model, monkeypatch, caplog):
    def broken(images):
        raise RuntimeError("secret internal detail /opt/model")

    monkeypatch.setattr(handler_module, "recognize", broken)
    with caplog.at_level(logging.INFO):
        status, _, body = call(event("direct.json"))
    assert status == 500 and body["request_id"] == "test-request-42"
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_missing_model_is_500_without_paths(monkeypatch, tmp_path):
    from serving import model

    monkeypatch.setenv("HTR_MODEL_PATH", str(tmp_path / "gone.pt"))
    model.reset()
    status, _, body = call(event("direct.json"))
    model.reset()
    assert status == 500 and str(tmp_path) not in json.dumps(body)


def test_events_are_never_logged_raw(served_model, caplog):
    b64 = event("direct.json")["image"]
    with caplog.at_level(logging.DEBUG):
        call(event("direct.json"))
        call(event("bad_base64.json"))
    assert b64[:40] not in caplog.text and "@@@" not in caplog.text
