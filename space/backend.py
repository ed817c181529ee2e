"""Recognition for the Space: the model in this process, or the JSON API at MODEL_URL."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import urllib.error
import urllib.request

import numpy as np
import torch
from PIL import Image

from serving import model as model_store
from serving import pages
from serving.errors import BadRequest, ModelUnavailable, ServingError
from serving.images import MAX_BYTES
from serving.recognize import recognize

log = logging.getLogger(__name__)
API_TIMEOUT_S = float(os.environ.get("MODEL_URL_TIMEOUT", "20"))


def load_local_model() -> model_store.LoadedModel:
    """Resolve the configured source to model.pt and load it (once per process)."""
    from serving.source import ModelSource, describe, fetch, resolved_revision

    source = ModelSource.from_env()
    path = fetch(source)
    loaded = model_store.load(path)
    commit = resolved_revision(path)
    if commit:
        loaded.revision = f"{loaded.revision} @ {commit}"
    loaded.location = describe(source, path)
    log.info("serving %s (%s) from %s", loaded.name, loaded.revision, loaded.location)
    return loaded


def read(image: np.ndarray) -> dict:
    """Text, confidence, words, timing, model and revision for one uint8 image array."""
    url = os.environ.get("MODEL_URL")
    if url:
        return _remote(url, image)
    out = recognize([torch.from_numpy(np.ascontiguousarray(image))])
    one = {k: out[k][0] for k in ("preds", "confidences", "words", "unsure") if k in out}
    return {
        "pred": one["preds"],
        "confidence": one["confidences"],
        "words": one.get("words"),
        "unsure": one.get("unsure"),
        "calibrated": bool(out.get("calibrated", False)),
        "model": out["model"],
        "revision": out["revision"],
        "timing_ms": out["timing_ms"],
    }


def reads_pages() -> bool:
    """Whether a page can be sent: the local file holds a finder; an API says so itself."""
    if os.environ.get("MODEL_URL"):
        return True  # a lines-only API answers 400 with its own remedy
    return pages.reads_pages(model_store.get().module)


def read_page(image: np.ndarray) -> dict:
    """The page dict of docs/pages.md for one uint8 page image array."""
    url = os.environ.get("MODEL_URL")
    if url:
        return _post(url, {"page": _page_b64(image)})
    return pages.read_page(torch.from_numpy(np.ascontiguousarray(image)))


def accuracy_note() -> str:
    """The served model's measured CER per set, from the eval.json published beside it."""
    if os.environ.get("MODEL_URL"):
        return ""
    folder = model_store.get().folder
    path = folder / "eval.json" if folder else None
    if path is None or not path.is_file():
        return ""
    try:
        sets = json.loads(path.read_text(encoding="utf-8")).get("sets", {})
        parts = [f"{name} {100 * r['cer']:.1f}%" for name, r in sets.items()]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    return "Measured character error rate (CER): " + ", ".join(parts) + "." if parts else ""


def _png_b64(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _page_b64(image: np.ndarray) -> str:
    """PNG, or JPEG when a photo's PNG would not fit the API's request limit (same pixels)."""
    encoded = _png_b64(image)
    if len(encoded) < MAX_BYTES - 1024:  # the whole request body, base64 and all, counts
        return encoded
    buf = io.BytesIO()
    Image.fromarray(image).convert("RGB").save(buf, format="JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode()


def _json_or_empty(data: bytes) -> dict:
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _remote(url: str, image: np.ndarray) -> dict:
    """One line to the Lambda (function URL or the emulator's invoke endpoint)."""
    return _post(url, {"image": _png_b64(image)})


def _post(url: str, request: dict) -> dict:
    """POST `request` as JSON; the answer's body, or the API's error as a ServingError."""
    data = json.dumps(request).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=API_TIMEOUT_S) as resp:
            payload = json.loads(resp.read())
        if "statusCode" in payload:  # the emulator wraps the handler's HTTP result
            status, body = payload["statusCode"], json.loads(payload.get("body") or "{}")
        else:
            status, body = 200, payload
    except urllib.error.HTTPError as e:  # a function URL passes the handler's status through
        status, body = e.code, _json_or_empty(e.read())
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        log.warning("recognition API %s failed: %s", url, e)  # details for the operator only
        raise ModelUnavailable(
            "the recognition service is not answering; try again in a minute"
        ) from None
    if status != 200:
        err = BadRequest if status in (400, 413) else ServingError
        raise err(body.get("error") or body.get("message") or f"the API answered {status}")
    return body
