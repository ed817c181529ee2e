"""Read a whole page: find its lines, read them in batches, answer the page dict (docs/pages.md)."""

from __future__ import annotations

import time
from typing import Any

import torch

from serving import model as model_store
from serving.errors import BadRequest, TooLarge
from serving.recognize import MAX_BATCH, UNSURE_BELOW, read

# A 1600 px page is 2 MP and a phone photo 12 MP; past this the finder's scaling alone would
# take longer than the request's budget.
MAX_PAGE_PIXELS = 40_000_000


def reads_pages(module: torch.jit.ScriptModule) -> bool:
    """Whether the model file holds a line finder (files exported before it read lines only)."""
    return hasattr(module, "reads_pages") and bool(module.reads_pages())


def _check(image: torch.Tensor, module: torch.jit.ScriptModule) -> None:
    pixels = int(image.shape[0]) * int(image.shape[1])
    if pixels > MAX_PAGE_PIXELS:
        raise TooLarge(
            f"page is {image.shape[1]}x{image.shape[0]} pixels ({pixels:,}); send at most "
            f"{MAX_PAGE_PIXELS:,} pixels, e.g. scaled to a long side of 1600-4000 px"
        )
    if not reads_pages(module):
        raise BadRequest(
            "this model file reads single lines only (it has no line finder); send one line "
            'as {"image": ...}, or serve a model exported with a finder (release.export --finder)'
        )


def _points(points: torch.Tensor) -> list[list[int]]:
    return [[int(round(float(x))), int(round(float(y)))] for x, y in points.tolist()]


def read_page(image: torch.Tensor) -> dict:
    """The page dict of docs/pages.md for a uint8 page image (H, W) or (H, W, C)."""
    loaded = model_store.get()
    module = loaded.module
    _check(image, module)
    with torch.inference_mode():
        t0 = time.perf_counter()
        found = module.find_lines(image)
        t1 = time.perf_counter()
        crops = module.cut_lines(image, found) if found else []
        readings = []
        for start in range(0, len(crops), MAX_BATCH):  # bounded memory on a 100-line register
            readings.extend(read(module, crops[start : start + MAX_BATCH]))
        t2 = time.perf_counter()
    calibrated = all(k for _, _, k, _ in readings)
    lines: list[dict[str, Any]] = []
    # a found line in which nothing was read is a stain or a stamp, not a line of text
    kept = [(f, r) for f, r in zip(found, readings, strict=True) if r[0].strip()]
    for i, ((polygon, baseline), (text, conf, _, words)) in enumerate(kept, 1):
        lines.append(
            {
                "id": f"line_{i}",
                "polygon": _points(polygon),
                "baseline": _points(baseline),
                "text": text,
                "confidence": round(float(conf), 4),
                "unsure": calibrated and float(conf) < UNSURE_BELOW,
                "words": [[w, round(float(c), 4)] for w, c in words],
            }
        )
    return {
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "lines": lines,
        "text": "\n".join(line["text"] for line in lines),
        "calibrated": calibrated,
        "model": loaded.name,
        "revision": loaded.revision,
        "timing_ms": {"find": round((t1 - t0) * 1000, 1), "read": round((t2 - t1) * 1000, 1)},
    }
