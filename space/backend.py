"""Recognition for the Space: the model in this process, or the JSON API at MODEL_URL."""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request

import numpy as np
import torch
from PIL import Image

from serving import model as model_store
from serving.errors import BadRequest, ModelUnavailable, ServingError
from serving.recognize import recognize

API_TIMEOUT_S = float(os.environ.get("MODEL_URL_TIMEOUT", "20"))


def load_local_model() -> model_store.LoadedModel:
    """Resolve the configured source to model.pt and load it (once per process)."""
    from serving.source import ModelSource, fetch, resolved_revision

    source = ModelSource.from_env()
    path = fetch(source)
    loaded = model_store.load(path)
    commit = resolved_revision(path)
    if commit:
        loaded.revision = f"{loaded.revision} @ {commit}"
    return loaded


def read(image: np.ndarray) -> dict:
    """Text, confidence, timing, model and revision for one uint8 image array."""
    url = os.environ.get("MODEL_URL")
    if url:
        return _remote(url, image)
    out = recognize([torch.from_numpy(np.ascontiguousarray(image))])
    return {
        "pred": out["preds"][0],
        "confidence": out["confidences"][0],
        "model": out["model"],
        "revision": out["revision"],
        "timing_ms": out["timing_ms"],
    }


def _png_b64(image: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _remote(url: str, image: np.ndarray) -> dict:
    """POST to the Lambda (function URL or the emulator's invoke endpoint)."""
    data = json.dumps({"image": _png_b64(image)}).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=API_TIMEOUT_S) as resp:
            payload = json.loads(resp.read())
    except urllib.error.HTTPError as e:  # a function URL passes the handler's status through
        payload = {"statusCode": e.code, "body": e.read().decode(errors="replace")}
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise ModelUnavailable(
            f"the recognition API at {url} is not answering ({e}); try again later, "
            "or unset MODEL_URL to run the model here"
        ) from None
    if "statusCode" in payload:  # the emulator wraps the handler's HTTP result
        status, body = payload["statusCode"], json.loads(payload.get("body") or "{}")
    else:
        status, body = 200, payload
    if status != 200:
        err = BadRequest if status in (400, 413) else ServingError
        raise err(body.get("error", f"the API answered {status}"))
    return body
