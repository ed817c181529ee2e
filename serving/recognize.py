"""One call from images to texts with confidence and timing: what every front end returns."""

from __future__ import annotations

import time

import torch

from serving import model as model_store
from serving.errors import BadRequest

MAX_BATCH = 32  # lines per request: bounds memory and latency
UNSURE_BELOW = 0.5  # a calibrated line confidence under this flags the reading as unsure

Reading = tuple[str, float, bool, list[tuple[str, float]]]  # as LinePredictor.read_lines


def read(module: torch.jit.ScriptModule, images: list[torch.Tensor]) -> list[Reading]:
    """Text, confidence, calibrated flag and words of each image; a file exported before
    `read_lines` existed gives its raw confidence, uncalibrated, to each word too."""
    with torch.inference_mode():
        if hasattr(module, "read_lines"):
            return [(t, c, k, list(w)) for t, c, k, w in module.read_lines(images)]
        pairs = module.predict_batch_with_confidence(images)
    return [(t, c, False, [(w, c) for w in t.split()]) for t, c in pairs]


def recognize(images: list[torch.Tensor]) -> dict:
    """Texts, confidences, words, model name/revision and timings for a list of line images.

    With a calibrated file, `confidences` are the probabilities that each line is read with
    a CER of at most 10%, each word's the probability that it is exactly right, and `unsure`
    flags lines under 0.5; `calibrated` False means raw scores and `unsure` all False.
    """
    if not images:
        raise BadRequest(
            'no image given; send {"image": "<base64>"} or a non-empty {"images": [...]}'
        )
    if len(images) > MAX_BATCH:
        raise BadRequest(f"{len(images)} images in one request; send at most {MAX_BATCH}")
    loaded = model_store.get()
    t0 = time.perf_counter()
    results = read(loaded.module, images)
    ms = (time.perf_counter() - t0) * 1000
    calibrated = all(k for _, _, k, _ in results)
    return {
        "preds": [text for text, _, _, _ in results],
        "confidences": [round(float(c), 4) for _, c, _, _ in results],
        "words": [[[w, round(float(c), 4)] for w, c in words] for _, _, _, words in results],
        "unsure": [calibrated and float(c) < UNSURE_BELOW for _, c, _, _ in results],
        "calibrated": calibrated,
        "model": loaded.name,
        "revision": loaded.revision,
        "timing_ms": {"predict": round(ms, 1)},
    }
