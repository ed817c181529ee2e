"""AWS Lambda handler: direct invocations and function URL / API Gateway (payload 2.0) events.

Request: {"image": "<base64 or data URL>"} or {"images": [...]} for text lines, or
{"page": "<base64>"} for a whole page. Response: statusCode, JSON headers and a JSON body: for
lines pred (or preds), confidence(s), model, revision and timing; for a page the page dict of
docs/pages.md (lines with polygon, baseline, text, confidence; text; timing). The request that
loaded the model adds timing_ms.load. With HTR_LOAD_AT_INIT=1 the model loads while Lambda
imports this module (its INIT phase), so no request pays for it; without it the first request
loads it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from typing import Any

from serving import model as model_store
from serving.errors import BadRequest, ServingError, TooLarge
from serving.images import MAX_BYTES, PAGE_REMEDY, b64_to_bytes, decode_image
from serving.pages import MAX_PAGE_PIXELS, read_page
from serving.recognize import MAX_BATCH, recognize

log = logging.getLogger("handler")
log.setLevel(logging.INFO)
HEADERS = {"Content-Type": "application/json"}
LOAD_AT_INIT = "HTR_LOAD_AT_INIT"
ONE = '{"image": "<base64 of a PNG or JPEG line image>"}'
MANY = '{"images": ["<base64>", "<base64>"]}'
PAGE = '{"page": "<base64 of a PNG or JPEG page scan>"}'
SEND = f"send {ONE}, {MANY} or {PAGE}"
# recognize()'s per-image lists and their names in a single-image response.
SINGLE = {"preds": "pred", "confidences": "confidence", "words": "words", "unsure": "unsure"}
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
_served: model_store.LoadedModel | None = None  # the model that the init or a request used


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(HEADERS), "body": json.dumps(body)}


def _json_type(value: object) -> str:
    """What a decoded JSON value is, in JSON's words ("an array", "a number", ...)."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "a number")


def _payload(event: Any) -> dict[str, Any]:
    """The request JSON, from a direct invocation or an HTTP event's (maybe base64) body."""
    if not isinstance(event, dict):
        raise BadRequest(f"the event is {_json_type(event)}, not a JSON object; {SEND}")
    if "body" not in event:
        return event  # direct invocation: the event is the request
    body = event.get("body") or ""
    if not isinstance(body, str):
        example = json.dumps({"body": ONE})
        raise BadRequest(f'"body" is {_json_type(body)}; send the JSON as a string: {example}')
    size = len(body.encode("utf-8"))
    if size > MAX_BYTES:  # Lambda's own limit on a synchronous request
        raise TooLarge(
            f"request body is {size:,} bytes, over Lambda's limit of {MAX_BYTES:,}; "
            "send a smaller line image (cropped to the text, or as JPEG)"
        )
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                "isBase64Encoded is true but the body is not base64 of UTF-8 JSON; "
                f"send the JSON itself, such as {ONE}"
            ) from None
    if not body.strip():
        raise BadRequest(f"the body is empty; {SEND}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise BadRequest(
            f"the body is not valid JSON ({e.msg} at character {e.pos}); {SEND}"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(f"the body is {_json_type(data)}, not a JSON object; {SEND}")
    return data


def _decode(value: object, name: str, example: str, in_batch: bool, page: bool = False) -> Any:
    """One image field's value to a tensor (a page within the page limits); a batch's errors
    say which image."""
    if not isinstance(value, str) or not value:
        what = "an empty string" if value == "" else _json_type(value)
        raise BadRequest(f"{name} is {what}; send a base64 string, as in {example}")
    try:
        if page:
            return decode_image(b64_to_bytes(value), MAX_PAGE_PIXELS, PAGE_REMEDY)
        return decode_image(b64_to_bytes(value))
    except ServingError as e:
        if not in_batch:  # the message already says "image"
            raise
        raise type(e)(f"{name}: {e}") from None


def _images(data: dict[str, Any]) -> tuple[list[Any], bool]:
    """The decoded images and whether the request was a batch ("images")."""
    if "images" in data:
        items = data["images"]
        if not isinstance(items, list) or not items:
            what = "an empty array" if items == [] else _json_type(items)
            raise BadRequest(f'"images" is {what}; send {MANY}')
        if len(items) > MAX_BATCH:
            raise BadRequest(f'"images" has {len(items)} images; send at most {MAX_BATCH}')
        return [_decode(x, f"images[{i}]", MANY, True) for i, x in enumerate(items)], True
    if "image" in data:
        return [_decode(data["image"], '"image"', ONE, False)], False
    keys = [json.dumps(str(k)[:40]) for k in list(data)[:5]] + (["..."] if len(data) > 5 else [])
    got = f"its fields: {', '.join(keys)}" if keys else "it is an empty object"
    raise BadRequest(f'no "image", "images" or "page" field in the request ({got}); {SEND}')


def _load_ms() -> float | None:
    """The model's load time when this request is the first to use it (a cold start)."""
    global _served
    loaded = model_store.get()
    if loaded is _served:
        return None
    _served = loaded
    return round(loaded.load_seconds * 1000, 1)


def _single(out: dict[str, Any]) -> dict[str, Any]:
    """A one-image result: each per-image list present becomes its only element."""
    for many, one in SINGLE.items():
        if many in out:
            out[one] = out.pop(many)[0]
    return out


def _answer(data: dict[str, Any]) -> dict[str, Any]:
    """The response body: the page dict, a batch's readings, or one line's reading."""
    if "page" in data:
        others = [f'"{k}"' for k in ("image", "images") if k in data]
        if others:
            raise BadRequest(
                f'"page" and {" and ".join(others)} in one request; send one of them: '
                f"{PAGE} for a page, or {ONE} for a line"
            )
        return read_page(_decode(data["page"], '"page"', PAGE, False, page=True))
    images, batch = _images(data)
    out = recognize(images)
    return out if batch else _single(out)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    t0 = time.perf_counter()
    request_id = getattr(context, "aws_request_id", "local")
    try:
        out = _answer(_payload(event))
        load_ms = _load_ms()
    except ServingError as e:
        log.info("request %s refused (%d): %s", request_id, e.status, e)
        if e.status >= 500:
            error = "the model is not available; retry later, and report the request_id if it lasts"
            return _response(500, {"error": error, "request_id": request_id})
        return _response(e.status, {"error": str(e), "request_id": request_id})
    except Exception:  # noqa: BLE001 - our failure: log it, tell the caller no internals
        log.exception("request %s failed", request_id)
        error = "internal error; retry, and report the request_id if it persists"
        return _response(500, {"error": error, "request_id": request_id})
    if load_ms is not None:
        out["timing_ms"]["load"] = load_ms
    out["timing_ms"]["total"] = round((time.perf_counter() - t0) * 1000, 1)
    out["request_id"] = request_id
    return _response(200, out)


def _load_at_init() -> None:
    """Load the model while Lambda initialises this module, when HTR_LOAD_AT_INIT is set."""
    global _served
    if os.environ.get(LOAD_AT_INIT, "").lower() not in ("1", "true", "yes"):
        return
    _served = model_store.get()  # a failure fails the init: Lambda reports it, no request runs
    log.info("model loaded during init in %.2f s", _served.load_seconds)


_load_at_init()
