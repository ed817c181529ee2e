"""Contact sheets: line images with their text, for people to look at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from htr.atomic import write_with
from training.data.lines import LineSample

LABEL_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian fonts-dejavu-core
ROW_HEIGHT = 64  # every line is shown at this height
LABEL_HEIGHT = 22


def contact_sheet(samples: Sequence[LineSample], width: int = 1400) -> Image.Image:
    """One row per sample: the line image, then its text underneath in a plain font."""
    # Pillow's built-in font lacks accents; DejaVu has them all.
    label_font = (
        ImageFont.truetype(str(LABEL_FONT), 16)
        if LABEL_FONT.exists()
        else ImageFont.load_default(size=16)
    )
    rows = ROW_HEIGHT + LABEL_HEIGHT + 6
    sheet = Image.new("RGB", (width, rows * len(samples) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for i, s in enumerate(samples):
        img = Image.fromarray(s.image)
        w = max(1, round(img.width * ROW_HEIGHT / img.height))
        img = img.resize((min(w, width - 8), ROW_HEIGHT), Image.Resampling.BILINEAR)
        y = i * rows + 4
        sheet.paste(img.convert("RGB"), (4, y))
        draw.text((4, y + ROW_HEIGHT + 2), s.text, fill=(200, 0, 0), font=label_font)
        draw.line([(0, y + rows - 3), (width, y + rows - 3)], fill=(210, 210, 230))
    return sheet


def save_png(img: Image.Image, path: Path) -> None:
    """Write a PNG atomically: a reader never sees half a file."""
    write_with(path, lambda tmp: img.save(tmp, format="PNG"))
