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
        ("missing_field.json", 'no "image" field'),
        ("bad_base64.json", "not valid base64"),
        ("not_an_image.json", "not a readable image"),
        ("images_not_a_list.json", "must be a list"),
    ],
)
def test_bad_requests_get_400_saying_what_to_send(served_model, name, needle):
    status, headers, body = call(event(name))
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert needle in body["error"] and body["request_id"] == "test-request-42"


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
