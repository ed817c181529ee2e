"""Seconds a page: finding its lines and reading them, at long side 1600 px, on 1 and 2
threads; and the size of the file's line finder."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from PIL import Image

BATCH = 32  # lines per read_lines call, as the GT-cut lines are read
SIDE = 1600  # long side of the timed pages, px
THREADS = (1, 2)
LINES = 20  # the page of the end-to-end target


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Torch on `n` intra-op threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def to_side(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The page scaled so that its long side is `side` px."""
    h, w = image.shape[:2]
    if max(h, w) == side:
        return image
    size = (round(w * side / max(h, w)), round(h * side / max(h, w)))
    return np.array(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def time_page(model: Any, image: np.ndarray) -> tuple[float, float, int]:
    """Seconds of `find_lines`, seconds of `cut_lines` + `read_lines`, and the lines found."""
    x = torch.from_numpy(image.copy())  # writable, as torch wants
    with torch.inference_mode():
        t0 = time.perf_counter()
        found = model.find_lines(x)
        t1 = time.perf_counter()
        crops = model.cut_lines(x, found)
        for k in range(0, len(crops), BATCH):
            model.read_lines(crops[k : k + BATCH])
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(found)


def speed(model: Any, images: list[np.ndarray]) -> dict[str, Any]:
    """Median seconds a page over `images` on each thread count, after one warm-up page, and
    the median page's time scaled to a 20-line page on the most threads."""
    pages = [to_side(img) for img in images]
    out: dict[str, Any] = {"pages": len(pages), "side": SIDE, "batch": BATCH, "threads": {}}
    if not pages:
        return out
    rows: list[tuple[float, float, int]] = []
    for n in THREADS:
        with threads(n):
            time_page(model, pages[0])  # TorchScript profiles and optimises its first calls
            rows = [time_page(model, img) for img in pages]
        out["threads"][str(n)] = {
            "find_s": round(statistics.median(f for f, _, _ in rows), 3),
            "read_s": round(statistics.median(r for _, r, _ in rows), 3),
            "total_s": round(statistics.median(f + r for f, r, _ in rows), 3),
            "lines": statistics.median(k for _, _, k in rows),
        }
    # finding costs the same whatever the page holds; reading grows with its lines
    scaled = [f + r * LINES / k for f, r, k in rows if k]
    out["twenty_lines_s"] = round(statistics.median(scaled), 3) if scaled else None
    out["twenty_lines_threads"] = THREADS[-1]
    return out


def finder_bytes(model: Any) -> int | None:
    """Bytes of the file's line finder weights (its `finder` submodule), None when the file
    does not expose one."""
    finder = getattr(model, "finder", None)
    if finder is None or not hasattr(finder, "parameters"):
        return None
    tensors = [*finder.parameters(), *finder.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
