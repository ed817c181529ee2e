"""The Lambda handler's page requests, {"page": "<base64>"}, in-process."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

EVENTS = Path(__file__).parent / "events"


class Context:
    aws_request_id = "test-request-42"


@pytest.fixture(scope="module")
def handler_module(load_script):
    return load_script("htr_lambda_handler_pages", "lambda/handler.py")


@pytest.fixture
def call(handler_module):
    """call(event) -> (status, headers, body) of the handler's answer."""

    def answer(event) -> tuple[int, dict, dict]:
        out = handler_module.handler(event, Context())
        return out["statusCode"], out["headers"], json.loads(out["body"])

    return answer


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def _png_b64(size) -> str:
    buf = io.BytesIO()
    Image.new("1", size).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_page_request_answers_the_page_dict(fake_page_model, call):
    status, headers, body = call(event("page.json"))
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert (body["width"], body["height"]) == (240, 160)
    assert [line["text"] for line in body["lines"]] == fake_page_model.texts
    assert body["text"] == "\n".join(fake_page_model.texts)
    first = body["lines"][0]
    assert first["id"] == "line_1" and first["polygon"][0] == [5, 10]
    assert first["baseline"] == [[6, 35], [120, 36], [234, 35]]
    assert first["words"] == [["Le", 0.5], ["dzé", 0.5], ["réfléchi", 0.5]]
    assert (first["confidence"], first["unsure"], body["calibrated"]) == (0.75, False, True)
    assert (body["model"], body["revision"], body["request_id"]) == (
        "fake-pages",
        "r1",
        "test-request-42",
    )
    assert {"find", "read", "total"} <= set(body["timing_ms"])
    assert "pred" not in body and "preds" not in body


def test_page_request_through_a_function_url_and_a_blank_page(fake_page_model, call):
    fake_page_model.texts = []
    http = {"body": json.dumps(event("page.json")), "isBase64Encoded": False}
    status, _, body = call(http)
    assert status == 200 and body["lines"] == [] and body["text"] == ""


@pytest.mark.parametrize(
    "page, needle",
    [("@@@", "not valid base64"), (base64.b64encode(b"GIF89a junk").decode(), "not a readable")],
)
def test_an_unreadable_page_is_400(fake_page_model, page, needle, call):
    status, _, body = call({"page": page})
    assert status == 400 and needle in body["error"]


@pytest.mark.parametrize("extra", [{"image": "x"}, {"images": ["x"]}])
def test_page_with_line_images_is_400_saying_send_one(fake_page_model, extra, call):
    status, _, body = call({**event("page.json"), **extra})
    assert status == 400 and "send one of them" in body["error"]
    assert '{"page": "<base64 of a PNG or JPEG page scan>"}' in body["error"]


def test_page_over_the_pixel_limit_is_413_saying_scale_it_down(fake_page_model, call):
    from serving.pages import MAX_PAGE_PIXELS

    status, _, body = call({"page": _png_b64((7000, 6000))})
    assert 7000 * 6000 > MAX_PAGE_PIXELS
    assert (
        status == 413 and "40,000,000" in body["error"] and "scale the page down" in body["error"]
    )


def test_a_lines_only_model_refuses_pages_with_its_400(monkeypatch, call):
    from serving import model

    lines_only = model.LoadedModel(module=object(), name="old", revision="r0", load_seconds=0.1)
    model.set_loader(lambda: lines_only)
    try:
        status, _, body = call(event("page.json"))
    finally:
        model.set_loader(None)
    assert status == 400 and "reads single lines only" in body["error"]
    assert "release.export --finder" in body["error"]


def test_page_request_with_the_tiny_model_file(served_model, call):
    status, _, body = call(event("page.json"))
    assert status == 200 and (body["width"], body["height"]) == (240, 160)
    assert body["text"] == "\n".join(line["text"] for line in body["lines"])
    assert all(len(line["baseline"]) >= 2 for line in body["lines"])
