"""What the Space's widgets send, as uint8 arrays; every bad input gets a message for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from serving.errors import ServingError
from serving.images import MAX_PIXELS, decode_image

MAX_UPLOAD = "5mb"  # Gradio refuses bigger uploads before they reach a callback
LIMITS = (
    "One handwritten **line** per image, not a page. PNG, JPEG or WebP, up to 5 MB and "
    f"{MAX_PIXELS // 1_000_000} megapixels."
)


class InputProblem(ValueError):
    """The visitor's input cannot be read; the message says what to do instead."""


def _decode_file(path: str | Path) -> np.ndarray:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise InputProblem("The upload did not arrive completely: choose the file again.") from None
    try:
        return decode_image(data).numpy()
    except ServingError as e:
        if e.status == 413:
            raise InputProblem(f"This image is too large: {e}.") from None
        raise InputProblem(
            "This file is not an image the Space can read: upload a PNG, JPEG or WebP "
            "photo or scan of one handwritten line."
        ) from None


def to_array(value: Any) -> np.ndarray | None:
    """An uploaded file, a drawing or an array as uint8 pixels; None when there is nothing."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        image = value
    elif isinstance(value, dict) and "composite" in value:  # the canvas: its flattened layers
        return to_array(value["composite"])
    elif isinstance(value, dict) and value.get("path"):  # an uploaded file, not yet decoded
        image = _decode_file(value["path"])
    elif isinstance(value, (str, Path)):
        image = _decode_file(value)
    else:
        return None
    if image.size == 0:
        return None
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputProblem(
            f"The image has {image.shape[0] * image.shape[1]:,} pixels, over the limit of "
            f"{MAX_PIXELS:,}: crop it to the text line."
        )
    return image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)


def drawn(image: np.ndarray | None) -> bool:
    """Whether a canvas image holds any stroke (transparent everywhere means empty)."""
    if image is None:
        return False
    if image.ndim == 3 and image.shape[2] == 4:
        return bool(image[..., 3].any())
    return bool((image < 250).any())
