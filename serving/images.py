"""Bytes to a uint8 image tensor, with limits that hold against decompression bombs."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from serving.errors import BadRequest, TooLarge

MAX_PIXELS = 16_000_000  # 4000 x 4000: far beyond any text line, far below a bomb
MAX_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
LINE_REMEDY = "crop to the text line or scale it down"
PAGE_REMEDY = "scale the page down, e.g. to a long side of 1600-4000 px"
_DATA_URL = re.compile(r"^data:image/[\w.+-]+;base64,", re.IGNORECASE)


def b64_to_bytes(text: object) -> bytes:
    """Decode base64 or a `data:image/...;base64,` URL; BadRequest says what to send instead."""
    if not isinstance(text, str) or not text:
        raise BadRequest(
            f"image must be a base64 string or a data URL, got {type(text).__name__}"
            "; send the file's bytes base64-encoded"
        )
    payload = _DATA_URL.sub("", text.strip(), count=1)
    if len(payload) * 3 // 4 > MAX_BYTES:
        raise TooLarge(f"image is over {MAX_BYTES // 2**20} MB; send a smaller line image")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "image is not valid base64; encode the file's bytes with standard "
            "base64 (or send a data:image/png;base64,... URL)"
        ) from None


def decode_image(
    data: bytes, max_pixels: int = MAX_PIXELS, remedy: str = LINE_REMEDY
) -> torch.Tensor:
    """PNG/JPEG/WebP/... bytes -> uint8 tensor HxW, HxWx3 or HxWx4 (within `max_pixels`);
    `remedy` ends the message of an image over it (pages are scaled down, not cropped)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            w, h = img.size
            if w < 2 or h < 2:
                raise BadRequest(f"image is {w}x{h} pixels; send a line image at least 2x2")
            if w * h > max_pixels:
                raise TooLarge(
                    f"image is {w}x{h} = {w * h:,} pixels, over the limit of "
                    f"{max_pixels:,}; {remedy}"
                )
            img.load()
            upright = ImageOps.exif_transpose(img)  # phone photos: as their EXIF says

    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(
            "image declares too many pixels (a decompression bomb?); send an ordinary line image"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise BadRequest("image bytes are not a readable image; send PNG, JPEG or WebP") from None
    return torch.from_numpy(np.array(_to_supported_mode(upright)))


def _to_supported_mode(img: Image.Image) -> Image.Image:
    """Modes the model accepts: L, RGB, RGBA (palette, 16-bit, CMYK... converted)."""
    if img.mode in ("L", "RGB", "RGBA"):
        return img
    if img.mode in ("LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        return Image.fromarray((arr * 255.0 / max(arr.max(), 1.0)).astype(np.uint8))
    return img.convert("RGB")
