"""Image decoding and its limits."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from serving.errors import BadRequest, TooLarge
from serving.images import b64_to_bytes, decode_image


def _png(mode: str, size=(120, 40), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, **kw).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "mode, shape",
    [
        ("L", (40, 120)),
        ("RGB", (40, 120, 3)),
        ("RGBA", (40, 120, 4)),
        ("LA", (40, 120, 4)),
        ("P", (40, 120, 3)),
        ("I;16", (40, 120)),
        ("1", (40, 120, 3)),
    ],
)
def test_modes_become_what_the_model_takes(mode, shape):
    img = decode_image(_png(mode))
    assert tuple(img.shape) == shape and str(img.dtype) == "torch.uint8"


def test_jpeg_and_data_urls():
    buf = io.BytesIO()
    Image.fromarray(np.full((30, 90, 3), 200, np.uint8)).save(buf, format="JPEG")
    data_url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    assert tuple(decode_image(b64_to_bytes(data_url)).shape) == (30, 90, 3)


@pytest.mark.parametrize(
    "text, exc, needle",
    [
        ("not base64!!", BadRequest, "not valid base64"),
        (12, BadRequest, "base64 string"),
        ("", BadRequest, "base64 string"),
        ("A" * (9 * 2**20), TooLarge, "over 6 MB"),
    ],
)
def test_bad_base64(text, exc, needle):
    with pytest.raises(exc, match=needle):
        b64_to_bytes(text)


def test_undecodable_bytes_and_tiny_images():
    with pytest.raises(BadRequest, match="not a readable image"):
        decode_image(b"hello, not an image")
    with pytest.raises(BadRequest, match="at least 2x2"):
        decode_image(_png("L", size=(1, 40)))


def test_pixel_limit_and_decompression_bomb():
    with pytest.raises(TooLarge, match="over the limit"):
        decode_image(_png("L", size=(5000, 4000)))
    # A bomb: a tiny PNG file that declares 30000 x 30000 pixels.
    bomb = _png("1", size=(30000, 30000))
    assert len(bomb) < 200_000
    with pytest.raises(TooLarge):
        decode_image(bomb)


def test_a_phone_photo_is_read_upright_as_its_exif_says():
    import io

    from PIL import Image

    from serving.images import decode_image

    img = Image.new("L", (300, 40), 255)
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to view
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    assert tuple(decode_image(buf.getvalue()).shape) == (300, 40)
