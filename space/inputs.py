"""What the Space's widgets send, as uint8 arrays; every bad input gets a message for people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.errors import ServingError
from serving.images import MAX_PIXELS, decode_image
from serving.pages import MAX_PAGE_PIXELS

MAX_UPLOAD = "5mb"  # Gradio refuses bigger uploads before they reach a callback
LIMITS = (
    "One handwritten **line** per image (a whole page goes on the **Page** tab). "
    f"PNG, JPEG or WebP, up to 5 MB and {MAX_PIXELS // 1_000_000} megapixels."
)


class InputProblem(ValueError):
    """The visitor's input cannot be read; the message says what to do instead."""


@dataclass(frozen=True)
class Limit:
    """What one kind of image may be: its pixels, and what to do with a bigger one."""

    pixels: int
    remedy: str
    kind: str  # what the visitor should upload instead of a non-image


LINE = Limit(MAX_PIXELS, "crop it to the text line", "one handwritten line")
PAGE = Limit(MAX_PAGE_PIXELS, "scale it to a long side of 1600-4000 px", "a handwritten page")


def _decode_file(path: str | Path, limit: Limit) -> np.ndarray:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise InputProblem("The upload did not arrive completely: choose the file again.") from None
    try:
        return decode_image(data, limit.pixels).numpy()
    except ServingError as e:
        if e.status == 413:  # serving's own remedy is for lines: keep what it found, say ours
            found = str(e).split(";")[0]
            raise InputProblem(f"This image is too large: {found}; {limit.remedy}.") from None
        raise InputProblem(
            "This file is not an image the Space can read: upload a PNG, JPEG or WebP "
            f"photo or scan of {limit.kind}."
        ) from None


def to_array(value: Any, limit: Limit = LINE) -> np.ndarray | None:
    """An uploaded file, a drawing or an array as uint8 pixels; None when there is nothing."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        image = value
    elif isinstance(value, dict) and "composite" in value:  # the canvas: its flattened layers
        return to_array(value["composite"], limit)
    elif isinstance(value, dict) and value.get("path"):  # an uploaded file, not yet decoded
        image = _decode_file(value["path"], limit)
    elif isinstance(value, (str, Path)):
        image = _decode_file(value, limit)
    else:
        return None
    if image.size == 0:
        return None
    if image.shape[0] * image.shape[1] > limit.pixels:
        raise InputProblem(
            f"The image has {image.shape[0] * image.shape[1]:,} pixels, over the limit of "
            f"{limit.pixels:,}: {limit.remedy}."
        )
    return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)


def drawn(image: np.ndarray | None) -> bool:
    """Whether a canvas image holds any stroke (transparent everywhere means empty)."""
    if image is None:
        return False
    if image.ndim == 3 and image.shape[2] == 4:
        return bool(image[..., 3].any())
    return bool((image < 250).any())
