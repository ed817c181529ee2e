"""Synthetic handwritten pages with exact line geometry, deterministic from (seed, index).

Lines are drawn with the line generator's fonts and texts onto a flat sheet whose layout is
known (margins, indents, paragraphs, columns, marginal notes, ruled or plain paper); the sheet
is then bent, turned and photographed (training/data/page_warp.py), and every baseline and
polygon goes through the same warp as the pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from training.data import augment
from training.data.charset import CHARSET
from training.data.fonts import Font, find_fonts, load_font
from training.data.page_layout import Slot, layout
from training.data.page_samples import PageLine, PageSample
from training.data.page_warp import photograph, random_warp
from training.data.synthetic import render_line
from training.data.texts import TextSampler

INK = 0.25  # an ink-mask value above this counts as ink when the polygon is traced


@dataclass
class SyntheticPageConfig:
    """How synthetic pages are drawn; the shares are chances per page."""

    long_side: tuple[int, int] = (1200, 1600)  # pixels, like the real pages' scans
    blank: float = 0.04  # pages without a line
    ruled: float = 0.3  # lined paper, the writing on the rules
    columns: float = 0.1  # two columns of text
    note: float = 0.15  # a note in a wide left margin
    photo: float = 0.6  # photographed (perspective, lighting); the rest look scanned
    show_through: float = 0.25  # the back of the sheet faintly visible


@dataclass
class _Hand:
    """One writer: a font at a size, a slant, a pen."""

    font: Font
    size: int  # font size in pixels
    ascent: float  # ascender height above the baseline, pixels
    slant_seed: int  # every line draws its shear from this seed: one writer, one slant
    slopes: tuple[float, float] = (0.0, 0.0)  # page drift, per-line spread


class SyntheticPages:
    """Indexable generator: page `i` of seed `s` is the same on every machine and worker."""

    def __init__(
        self,
        config: SyntheticPageConfig | None = None,
        seed: int = 0,
        length: int = 1000,
        charset: str = CHARSET,
    ) -> None:
        self.config = config or SyntheticPageConfig()
        self.seed = seed
        self.length = length
        self.charset = charset
        self.texts = TextSampler(max_chars=100)
        self._fonts: tuple[Font, ...] | None = None  # found lazily: nothing at import/init

    def __len__(self) -> int:
        return self.length

    @property
    def fonts(self) -> tuple[Font, ...]:
        if self._fonts is None:
            self._fonts = find_fonts(self.charset)
        return self._fonts

    def __getitem__(self, index: int) -> PageSample:
        c = self.config
        rng = np.random.default_rng([self.seed, index])
        long = int(rng.integers(c.long_side[0], c.long_side[1] + 1))
        aspect = float(rng.uniform(1.25, 1.5))
        h, w = (long, int(long / aspect)) if rng.random() < 0.85 else (int(long / aspect), long)
        spacing = long * math.exp(rng.uniform(math.log(0.02), math.log(0.05)))
        ruled = rng.random() < c.ruled
        slots, rules = layout(h, w, spacing, ruled, rng, c.columns, c.note)
        if rng.random() < c.blank:
            slots = []
        ink = np.zeros((h, w), np.float32)
        hands = [self._hand(rng, spacing, ruled), self._hand(rng, spacing * 0.85, ruled)]
        drawn = [(s, self._write(ink, s, hands[s.hand], rng)) for s in slots]
        drawn = [(s, line) for s, line in drawn if line is not None]
        img = augment.compose(ink, self._paper(h, w, rules, ink, rng), rng)
        photo = rng.random() < c.photo
        warp = random_warp(h, w, rng, photo)
        # around the sheet: a table in a photo, the scanner's lid in a scan
        fill = float(rng.uniform(30, 140) if photo else rng.uniform(200, 255))
        img = photograph(warp.image(img, fill=fill), rng, photo)
        lines = [
            PageLine(_clip(warp.points(poly), h, w), _clip(warp.points(base), h, w), text, f"l{k}")
            for k, (_, (poly, base, text)) in enumerate(drawn, 1)
        ]
        meta = {
            "source": "synthetic",
            "seed": self.seed,
            "index": index,
            "blocks": [s.block for s, _ in drawn],
            "ruled": ruled,
            "photo": photo,
        }
        return PageSample(img, lines, key=f"synthetic-page-{self.seed}-{index}", meta=meta)

    def _hand(self, rng: np.random.Generator, spacing: float, ruled: bool) -> _Hand:
        font = self.fonts[int(rng.integers(len(self.fonts)))]
        ascent = spacing * float(rng.uniform(0.45, 0.75))
        size = max(8, int(round(ascent / ascender_ratio(font.path))))
        spread = 0.002 if ruled else float(rng.uniform(0.003, 0.015))
        drift = 0.0 if ruled else float(rng.normal(0, 0.008))
        return _Hand(font, size, ascent, int(rng.integers(2**31)), (drift, spread))

    def _write(
        self, ink: np.ndarray, slot: Slot, hand: _Hand, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, str] | None:
        """Draw one line into the sheet's ink mask; its polygon, baseline and text, or None."""
        text = self._text(slot, hand, rng)
        if not text.strip():
            return None
        mask, base = render_line(text, hand.font, hand.size)
        mask = augment.stroke_width(mask, rng, hand.size)
        mask = augment.slant(mask, np.random.default_rng(hand.slant_seed), max_shear=0.35)
        cols = np.nonzero(mask.max(axis=0) > INK)[0]
        if cols.size == 0:
            return None
        c0, c1 = int(cols[0]), int(cols[-1])
        polygon = trace_polygon(mask, base, c0, c1, hand.ascent)
        n = max(2, math.ceil((c1 - c0) / max(4 * hand.ascent, 8.0)) + 1)
        baseline = np.stack([np.linspace(c0, c1, n), np.full(n, base - 0.5)], 1)
        slope = hand.slopes[0] + float(rng.normal(0, hand.slopes[1]))
        mask, shift = shear_rows(mask, slope)
        # the line's point (x, y) lands on the sheet at (dx + x, dy + y + slope * x + shift)
        dx = slot.x0 - c0 if slot.align == "left" else slot.x1 - c1
        dy = slot.y - (base + slope * c0 + shift)
        _paste_max(ink, mask, int(round(dy)), int(round(dx)))
        dx, dy = round(dx), round(dy)  # the geometry follows the pixels exactly

        def place(pts: np.ndarray) -> np.ndarray:
            return np.stack([pts[:, 0] + dx, pts[:, 1] + dy + slope * pts[:, 0] + shift], 1)

        return place(polygon), place(baseline), text

    def _text(self, slot: Slot, hand: _Hand, rng: np.random.Generator) -> str:
        """Words that fill the slot's share of its room, in characters the font renders."""
        font = load_font(hand.font.path, hand.size)
        room = (slot.x1 - slot.x0) * slot.fill
        words: list[str] = []
        while len(words) < (slot.words or 10_000) and font.getlength(" ".join(words)) < room:
            chunk = "".join(ch for ch in self.texts(rng) if ch in hand.font.covers)
            words += [wd for wd in chunk.split() if wd]
        if slot.words:
            words = words[: slot.words]
        while len(words) > 1 and font.getlength(" ".join(words)) > room:
            words.pop()
        text = " ".join(words)
        while len(text) > 1 and font.getlength(text) > room:  # one word wider than the room
            text = text[:-1]
        return text

    def _paper(
        self, h: int, w: int, rules: list[float], ink: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """The sheet without its writing: tint, stains, grain, rules and show-through."""
        bg = np.full((h, w), rng.uniform(170, 252), np.float32)
        if rng.random() < 0.7:  # stains and uneven tint, at the scale of the sheet
            coarse = rng.normal(0, rng.uniform(2, 10), size=(6, 5)).astype(np.float32)
            bg += np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC))
        if rng.random() < 0.5:  # grain
            bg += rng.standard_normal((h, w), dtype=np.float32) * float(rng.uniform(1, 5))
        if rules:
            tone = float(rng.uniform(25, 70))
            thick = int(rng.integers(1, 3))
            for y in rules:
                bg[int(y) : int(y) + thick] -= tone
            if rng.random() < 0.5:  # the margin rule
                x = int(w * rng.uniform(0.08, 0.14))
                bg[:, x : x + thick] -= tone
        if rng.random() < self.config.show_through:
            shift = int(rng.integers(-h // 20, h // 20 + 1))
            back = np.roll(ink[:, ::-1], shift, axis=0)
            back = ndimage.gaussian_filter(back, float(rng.uniform(1.0, 3.0)))
            bg -= back * float(rng.uniform(15, 45))
        return bg


@lru_cache(maxsize=256)
def ascender_ratio(path: Path) -> float:
    """Height above the baseline of the font's ascenders (d, h, k, l), in font sizes."""
    top = load_font(path, 100).getbbox("dhkl", anchor="ls")[1]
    return max(-top, 30) / 100.0


def trace_polygon(mask: np.ndarray, base: int, c0: int, c1: int, ascent: float) -> np.ndarray:
    """A loose outline of a line's ink: ascender tops to below the baseline, descenders in."""
    pad = max(2.0, 0.15 * ascent)
    step = max(4, int(ascent * 0.7))
    inked = mask[:, c0 : c1 + 1] > INK
    rows = np.arange(mask.shape[0])[:, None]
    any_ink = inked.any(axis=0)
    tops = np.where(any_ink, np.where(inked, rows, mask.shape[0]).min(axis=0), base)
    bottoms = np.where(any_ink, np.where(inked, rows, -1).max(axis=0), base)
    xs, top_edge, bottom_edge = [], [], []
    for x in range(0, c1 - c0 + 1, step):
        # neighbours' extremes too: the outline follows the writing, not every stroke
        lo, hi = max(0, x - step // 2), min(c1 - c0 + 1, x + step + step // 2)
        xs.append(c0 + min(x + step / 2, c1 - c0))
        top_edge.append(min(tops[lo:hi].min(), base - 0.5 * ascent) - pad)
        bottom_edge.append(max(bottoms[lo:hi].max(), base + 0.2 * ascent) + pad)
    xs[0], xs[-1] = c0 - pad, c1 + pad
    top = np.stack([xs, top_edge], 1)
    bottom = np.stack([xs, bottom_edge], 1)[::-1]
    return np.concatenate([top, bottom]).astype(np.float64)


def shear_rows(mask: np.ndarray, slope: float) -> tuple[np.ndarray, int]:
    """Shear vertically so that row y at column x moves to y + slope * x + shift."""
    h, w = mask.shape
    shift = int(math.ceil(max(0.0, -slope * w)))
    out_h = h + int(math.ceil(abs(slope) * w)) + 1
    img = Image.fromarray(mask, mode="F")
    # PIL maps each output pixel to its source: (x, y) <- (x, y - slope * x - shift)
    out = img.transform(
        (w, out_h),
        Image.Transform.AFFINE,
        (1, 0, 0, -slope, 1, -shift),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(out, dtype=np.float32), shift


def _paste_max(canvas: np.ndarray, m: np.ndarray, top: int, left: int) -> None:
    h, w = canvas.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + m.shape[0], h), min(left + m.shape[1], w)
    if y1 > y0 and x1 > x0:
        region = m[y0 - top : y1 - top, x0 - left : x1 - left]
        np.maximum(canvas[y0:y1, x0:x1], region, out=canvas[y0:y1, x0:x1])


def _clip(pts: np.ndarray, h: int, w: int) -> list[tuple[float, float]]:
    xs = np.clip(pts[:, 0], 0, w - 1)
    ys = np.clip(pts[:, 1], 0, h - 1)
    return [(round(float(x), 1), round(float(y), 1)) for x, y in zip(xs, ys, strict=True)]
