"""One call from images to texts with confidence and timing: what every front end returns."""

from __future__ import annotations

import time

import torch

from serving import model as model_store
from serving.errors import BadRequest

MAX_BATCH = 32  # lines per request: bounds memory and latency


def recognize(images: list[torch.Tensor]) -> dict:
    """Texts, confidences, model name/revision and timings for a list of line images."""
    if not images:
        raise BadRequest(
            'no image given; send {"image": "<base64>"} or a non-empty {"images": [...]}'
        )
    if len(images) > MAX_BATCH:
        raise BadRequest(f"{len(images)} images in one request; send at most {MAX_BATCH}")
    loaded = model_store.get()
    t0 = time.perf_counter()
    with torch.inference_mode():
        results = loaded.module.predict_batch_with_confidence(images)
    ms = (time.perf_counter() - t0) * 1000
    return {
        "preds": [text for text, _ in results],
        "confidences": [round(float(c), 4) for _, c in results],
        "model": loaded.name,
        "revision": loaded.revision,
        "timing_ms": {"predict": round(ms, 1)},
    }
