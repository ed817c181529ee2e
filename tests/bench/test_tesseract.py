"""Tesseract, the benchmark's peer, reads a clean printed line in order."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bench import tesseract
from htr.errors import ConfigError
from release.evaluate import rates


def printed(text: str) -> np.ndarray:
    """A clean 64 px line of DejaVu text: something any OCR engine reads."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
    img = Image.new("L", (40 + 24 * len(text), 64), 250)
    ImageDraw.Draw(img).text((10, 8), text, fill=10, font=font)
    return np.asarray(img)


def test_reads_printed_lines_in_input_order():
    texts = ["Hello world 42", "Le café est très bon", "Tesseract reads print"]
    out = tesseract.read_lines([printed(t) for t in texts], jobs=2)
    assert len(out) == 3
    assert rates(out, texts)["cer"] < 0.15, out


def test_version_and_model_size():
    assert tesseract.version().startswith("5.")
    assert tesseract.traineddata_bytes() > 1_000_000


def test_missing_tesseract_says_how_to_install(monkeypatch):
    monkeypatch.setattr(tesseract.shutil, "which", lambda _: None)
    with pytest.raises(ConfigError, match="apt-get install tesseract-ocr"):
        tesseract.version()


def test_border_uses_the_paper_colour():
    img = np.full((64, 100), 200, np.uint8)
    img[20:40, 10:90] = 0
    out = np.asarray(tesseract.padded(img))
    assert out.shape == (64 + 2 * tesseract.BORDER, 100 + 2 * tesseract.BORDER)
    assert out[0, 0] == 200
