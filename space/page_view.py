"""A read page shown to people: its lines drawn and numbered on it, and one row per line."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from serving.recognize import UNSURE_BELOW

MAX_SHOWN_SIDE = 1600  # the drawn page is for the eye: a 12 MP photo would only slow the browser
SURE, UNSURE, BASELINE = (30, 90, 220), (240, 140, 0), (220, 30, 30)


def looks_like_page(image: np.ndarray) -> bool:
    """Whether an image sent as a line is rather a page (or a block of several rows)."""
    height, width = image.shape[:2]
    # A text line is many times wider than tall and rarely 400 px tall even at 300 dpi;
    # something over 400 px and taller than half its width holds several rows of text.
    return height > 400 and 2 * height > width


def unsure(line: dict[str, Any], calibrated: bool) -> bool:
    """Whether a line's reading should be checked by eye (a calibrated chance under 0.5)."""
    if not calibrated:
        return False
    flag = line.get("unsure")
    return bool(flag) if flag is not None else float(line["confidence"]) < UNSURE_BELOW


def confidence(line: dict[str, Any], calibrated: bool) -> str:
    """A line's confidence as the line tabs write it: 93%, 31% (unsure), 0.42 (uncalibrated)."""
    c = float(line["confidence"])
    if not calibrated:
        return f"{c:.2f} (uncalibrated)"
    return f"{round(100 * c)}% (unsure)" if unsure(line, calibrated) else f"{round(100 * c)}%"


def rows(page: dict[str, Any]) -> list[list[Any]]:
    """One row per line in reading order: its number, confidence and text."""
    calibrated = bool(page.get("calibrated"))
    return [
        [i, confidence(line, calibrated), line["text"]] for i, line in enumerate(page["lines"], 1)
    ]


def _grey_or_rgb(image: np.ndarray) -> Image.Image:
    """RGB pixels to draw in colour on; transparency flattened onto white paper."""
    img = Image.fromarray(image)
    if img.mode in ("RGBA", "LA"):
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return img.convert("RGB")


def draw(image: np.ndarray, page: dict[str, Any]) -> Image.Image:
    """The page with each line's polygon outlined, its baseline and its number drawn on it."""
    img = _grey_or_rgb(image)
    scale = min(1.0, MAX_SHOWN_SIDE / max(img.size))
    if scale < 1.0:
        img = img.resize(
            (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
        )
    pen = max(2, round(max(img.size) / 600))
    font = ImageFont.load_default(size=max(16, 10 * pen))
    canvas = ImageDraw.Draw(img)
    calibrated = bool(page.get("calibrated"))
    for number, line in enumerate(page["lines"], 1):
        polygon = [(x * scale, y * scale) for x, y in line["polygon"]]
        baseline = [(x * scale, y * scale) for x, y in line["baseline"]]
        colour = UNSURE if unsure(line, calibrated) else SURE
        if len(polygon) >= 2:
            canvas.line(polygon + polygon[:1], fill=colour, width=pen, joint="curve")
        if len(baseline) >= 2:
            canvas.line(baseline, fill=BASELINE, width=pen)
        _number(canvas, font, str(number), polygon or baseline, colour)
    return img


def _number(
    canvas: ImageDraw.ImageDraw, font: Any, label: str, points: list, colour: tuple
) -> None:
    """The line's number on a patch of its colour, just left of and above its top-left
    corner, pushed inside the image where the line starts at its edge."""
    x0, y0, x1, y1 = font.getbbox(label)
    x, y = min(points or [(0.0, 0.0)], key=lambda p: p[0] + p[1])
    at = (max(x, x1 - x0 + 4), max(y, y1 - y0 + 4))
    canvas.rectangle(canvas.textbbox(at, label, font=font, anchor="rb"), fill=colour)
    canvas.text(at, label, fill="white", font=font, anchor="rb")
