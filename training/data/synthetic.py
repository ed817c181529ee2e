"""Synthetic handwritten lines: the embedded default data, deterministic from a seed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from training.data import augment
from training.data.charset import CHARSET
from training.data.fonts import Font, find_fonts, load_font
from training.data.lines import LineSample
from training.data.texts import TextSampler


@dataclass
class SyntheticConfig:
    """How synthetic lines are drawn."""

    height: int = 64  # output height in pixels (the real lines are 64 px high)
    max_chars: int = 64  # longest text drawn on one line
    glyph_jitter: float = 0.6  # share of lines drawn glyph by glyph with size/baseline/angle jitter
    clean: float = 0.15  # share of lines drawn as a mouse or finger would: black on white


# Room around the baseline, in font sizes: the deepest descender seen in the fonts reaches 1.0
# size below it (Ecolier) and the tallest accented capital 1.5 above (dkg).
ASCENT, DESCENT = 2.0, 1.2


class SyntheticLines:
    """Indexable generator: line `i` of seed `s` is the same on every machine and worker."""

    def __init__(
        self,
        config: SyntheticConfig | None = None,
        seed: int = 0,
        length: int = 10_000,
        charset: str = CHARSET,
    ) -> None:
        self.config = config or SyntheticConfig()
        self.seed = seed
        self.length = length
        self.charset = charset
        self.texts = TextSampler(self.config.max_chars)
        self._fonts: tuple[Font, ...] | None = None  # found lazily: nothing at import/init

    def __len__(self) -> int:
        return self.length

    @property
    def fonts(self) -> tuple[Font, ...]:
        if self._fonts is None:
            self._fonts = find_fonts(self.charset)
        return self._fonts

    def text_length(self, index: int) -> int:
        """Length of line `index`'s text, cheaply (used to bucket batches by width)."""
        return len(self.texts(self._rng(index)))

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index])

    def pick(self, index: int) -> tuple[np.random.Generator, str, Font]:
        """Line `index`'s random stream, its text and a font that covers the text."""
        rng = self._rng(index)
        text = "".join(c for c in self.texts(rng) if c in self.charset)
        fonts = [f for f in self.fonts if set(text) <= f.covers] or [self._widest()]
        return rng, text, fonts[rng.integers(len(fonts))]

    def __getitem__(self, index: int) -> LineSample:
        rng, text, font = self.pick(index)
        image = self.draw(text, font, rng)
        return LineSample(
            image,
            text,
            doc=f"synthetic-{self.seed}-{index}",
            meta={"source": "synthetic", "font": font.name, "seed": self.seed},
        )

    def _widest(self) -> Font:
        return max(self.fonts, key=lambda f: len(f.covers))

    def render(
        self, text: str, font: Font, rng: np.random.Generator
    ) -> tuple[np.ndarray, int, int]:
        """Ink mask of `text` before any augmentation, its baseline row and the font size."""
        size = int(self.config.height * rng.uniform(0.5, 0.72))
        if rng.random() < self.config.glyph_jitter:
            mask, baseline = render_glyphs(text, font, size, rng)
        else:
            mask, baseline = render_line(text, font, size)
        return mask, baseline, size

    def draw(self, text: str, font: Font, rng: np.random.Generator) -> np.ndarray:
        """Render and augment one line; returns (height, W) uint8, dark ink on light paper."""
        h = self.config.height
        mask, baseline, size = self.render(text, font, rng)
        mask, baseline = trim_rows(mask, baseline, margin=size // 3)
        clean = rng.random() < self.config.clean
        if clean:
            mask = augment.stroke_width(augment.stroke_width(mask, rng, size), rng, size)
        else:
            mask = augment.stroke_width(mask, rng, size)
            if rng.random() < 0.5:
                alpha = float(rng.uniform(0.8, 2.5)) * size / augment.REFERENCE_SIZE
                mask = augment.elastic(mask, rng, alpha=alpha)
        if rng.random() < 0.7:
            mask = augment.slant(mask, rng)
        mask, baseline = crop_to_height(mask, baseline, h, rng)
        if clean:
            return np.clip(255 * (1 - mask), 0, 255).astype(np.uint8)
        bg = augment.paper(mask.shape[0], mask.shape[1], rng)
        if rng.random() < 0.25:
            augment.ruled_lines(bg, baseline, rng)
        return augment.degrade(augment.compose(mask, bg, rng), rng)


def render_line(text: str, font: Font, size: int) -> tuple[np.ndarray, int]:
    """Whole-line rendering (keeps the font's joins); returns ink mask and baseline row."""
    f = load_font(font.path, size)
    width = int(f.getlength(text)) + 2 * size
    img = Image.new("L", (width, int((ASCENT + DESCENT) * size)), 0)
    baseline = int(ASCENT * size)
    ImageDraw.Draw(img).text((size, baseline), text, fill=255, font=f, anchor="ls")
    return np.asarray(img, dtype=np.float32) / 255.0, baseline


def render_glyphs(
    text: str, font: Font, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Glyph-by-glyph rendering with per-glyph size, baseline, angle and spacing jitter."""
    base = load_font(font.path, size)
    width = int(base.getlength(text) * 1.3) + 3 * size
    drift = rng.normal(0, 0.02)  # the baseline wanders slowly along the line
    wander = int(abs(drift) * width) + 1  # room for it, above or below
    canvas = np.zeros((int((ASCENT + DESCENT) * size * 1.2) + wander, width), np.float32)
    # glyphs vary +-6% in size and 3% in height: 1.2 leaves room for 3 sigmas of both
    baseline = int(ASCENT * size * 1.2) + (wander if drift < 0 else 0)
    x = float(size)
    for ch in text:
        s = max(6, int(size * rng.normal(1, 0.06)))
        adv = advance(font, s, ch) * rng.normal(1, 0.04) + rng.normal(0, 0.02) * size
        if ch != " ":
            g = glyph(font, s, ch)
            if rng.random() < 0.5:  # rotating every glyph costs more than it teaches
                rot = Image.fromarray(g, mode="F").rotate(
                    rng.normal(0, 4), Image.Resampling.BILINEAR
                )
                g = np.asarray(rot, dtype=np.float32)
            top = int(baseline + drift * (x - size) + rng.normal(0, 0.03) * size - int(ASCENT * s))
            _paste_max(canvas, g, top, int(x) - s // 2)
        x += max(adv, 1.0)
    return canvas[:, : int(x) + size], baseline


@lru_cache(maxsize=50_000)
def advance(font: Font, size: int, ch: str) -> float:
    """How far the pen moves after `ch` (cached: measuring costs as much as drawing)."""
    return float(load_font(font.path, size).getlength(ch))


@lru_cache(maxsize=20_000)
def glyph(font: Font, size: int, ch: str) -> np.ndarray:
    """Ink mask of one character, baseline at row ASCENT * size (cached: fonts x sizes x chars)."""
    f = load_font(font.path, size)
    img = Image.new("L", (int(f.getlength(ch)) + size, int((ASCENT + DESCENT) * size)), 0)
    ImageDraw.Draw(img).text((size // 2, int(ASCENT * size)), ch, fill=255, font=f, anchor="ls")
    out = np.asarray(img, dtype=np.float32) / 255.0
    out.flags.writeable = False  # shared by every caller of the cache
    return out


def _paste_max(canvas: np.ndarray, g: np.ndarray, top: int, left: int) -> None:
    """Overlay glyph `g` on `canvas` at (top, left), clipped; overlapping ink keeps the max."""
    h, w = canvas.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + g.shape[0], h), min(left + g.shape[1], w)
    if y1 > y0 and x1 > x0:
        region = g[y0 - top : y1 - top, x0 - left : x1 - left]
        np.maximum(canvas[y0:y1, x0:x1], region, out=canvas[y0:y1, x0:x1])


def trim_rows(mask: np.ndarray, baseline: int, margin: int) -> tuple[np.ndarray, int]:
    """Drop empty rows beyond `margin` of the ink: the augmentations then work on less."""
    rows = np.nonzero(mask.max(axis=1) > 0)[0]
    if rows.size == 0:
        return mask, baseline
    y0, y1 = max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, mask.shape[0])
    return mask[y0:y1], baseline - y0


def crop_to_height(
    mask: np.ndarray, baseline: int, height: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Crop to the ink with random margins and scale to `height`; returns mask and baseline."""
    rows, cols = np.nonzero(mask > 0.1)
    if rows.size == 0:
        return np.zeros((height, height // 2), np.float32), int(height * 0.75)
    ink_h = rows.max() - rows.min() + 1
    pad_y = (rng.uniform(0.05, 0.3, size=2) * ink_h).astype(int)
    pad_x = (rng.uniform(0.0, 0.6, size=2) * ink_h).astype(int)
    y0, y1 = max(rows.min() - pad_y[0], 0), rows.max() + 1 + pad_y[1]
    crop = np.pad(mask[y0:y1, cols.min() : cols.max() + 1], ((0, 0), tuple(pad_x)))
    scale = height / crop.shape[0]
    width = max(8, int(crop.shape[1] * scale * rng.uniform(0.85, 1.15)))
    out = Image.fromarray(crop, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(out, dtype=np.float32), 0, 1), int((baseline - y0) * scale)
