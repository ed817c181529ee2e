"""AWS Lambda handler: direct invocations and function URL / API Gateway (payload 2.0) events.

Request: {"image": "<base64 or data URL>"} or {"images": [...]}. Response: statusCode, JSON
headers and a JSON body with pred (or preds), confidence(s), model, revision and timing.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Any

from serving.errors import BadRequest, ServingError, TooLarge
from serving.images import MAX_BYTES, b64_to_bytes, decode_image
from serving.recognize import recognize

log = logging.getLogger("handler")
log.setLevel(logging.INFO)
HEADERS = {"Content-Type": "application/json"}


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(HEADERS), "body": json.dumps(body)}


def _payload(event: Any) -> dict[str, Any]:
    """The request JSON, from a direct invocation or an HTTP event's (maybe base64) body."""
    if not isinstance(event, dict):
        raise BadRequest('the event must be a JSON object such as {"image": "<base64>"}')
    if "body" not in event:
        return event  # direct invocation: the event is the request
    body = event.get("body") or ""
    if len(body) > MAX_BYTES:  # Lambda's own limit on a synchronous request
        raise TooLarge(f"request body is over {MAX_BYTES // 2**20} MB; send a smaller image")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                "isBase64Encoded is true but the body is not base64 of UTF-8 "
                "JSON; send the JSON itself"
            ) from None
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise BadRequest(
            f'body is not valid JSON ({e.msg} at character {e.pos}); send {{"image": "<base64>"}}'
        ) from None
    if not isinstance(data, dict):
        raise BadRequest('body must be a JSON object such as {"image": "<base64>"}')
    return data


def _images(data: dict[str, Any]) -> tuple[list[Any], bool]:
    if "images" in data:
        if not isinstance(data["images"], list):
            raise BadRequest('"images" must be a list of base64 strings')
        return [decode_image(b64_to_bytes(x)) for x in data["images"]], True
    if "image" in data:
        return [decode_image(b64_to_bytes(data["image"]))], False
    raise BadRequest(
        f'no "image" field (got {sorted(data)[:5]}); send {{"image": "<base64 '
        'of a PNG or JPEG line image>"}} or {"images": [...]}'
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point."""
    t0 = time.perf_counter()
    request_id = getattr(context, "aws_request_id", "local")
    try:
        images, batch = _images(_payload(event))
        out = recognize(images)
    except ServingError as e:
        log.info("request %s refused (%d): %s", request_id, e.status, e)
        if e.status >= 500:
            return _response(500, {"error": "the model is not available", "request_id": request_id})
        return _response(e.status, {"error": str(e), "request_id": request_id})
    except Exception:  # noqa: BLE001 - our failure: log it, tell the caller no internals
        log.exception("request %s failed", request_id)
        return _response(
            500,
            {
                "error": "internal error; retry, and report the request_id if it persists",
                "request_id": request_id,
            },
        )
    out["timing_ms"]["total"] = round((time.perf_counter() - t0) * 1000, 1)
    if not batch:
        out["pred"], out["confidence"] = out.pop("preds")[0], out.pop("confidences")[0]
    out["request_id"] = request_id
    return _response(200, out)
