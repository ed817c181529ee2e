"""Augmentations that close the gap between rendered text and real scans or mouse strokes.

Ink-stage functions work on an ink mask (H, W) float32 in [0, 1] (1 = full ink); the paper
stage turns a mask into a greyscale uint8 image of dark ink on light paper.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

# Font size (px) the pixel-sized augmentations were tuned at: 0.6 of a 64-px line. They scale
# with the font size, so a line drawn at 40 px looks like one drawn at 64 px and scaled down.
REFERENCE_SIZE = 38


def stroke_width(mask: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Thicken or thin strokes, as pens and scanners do; `size` is the font size in pixels."""
    r = rng.random()
    scale = size / REFERENCE_SIZE
    if r < 0.3:
        # 1 or 2 px wider at the reference size; fractions become a chance of one pixel
        extra = (1 if rng.random() < 0.6 else 2) * scale
        grow = int(extra) + int(rng.random() < extra - int(extra))
        return ndimage.grey_dilation(mask, size=(grow + 1, grow + 1)) if grow else mask
    if r < 0.45 and scale >= 0.8:  # thinner strokes than this vanish when eroded
        return ndimage.grey_erosion(mask, size=(2, 2))
    return mask


def slant(mask: np.ndarray, rng: np.random.Generator, max_shear: float = 0.45) -> np.ndarray:
    """Shear horizontally around the middle row: writers lean left or right."""
    shear = float(rng.uniform(-max_shear * 0.6, max_shear))
    h, w = mask.shape
    pad = int(abs(shear) * h) + 1
    img = Image.fromarray(np.pad(mask, ((0, 0), (pad, pad))), mode="F")
    # x_src = x + shear * (y - h/2): positive shear leans the tops to the right.
    out = img.transform(
        img.size,
        Image.Transform.AFFINE,
        (1, shear, -shear * h / 2, 0, 1, 0),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(out, dtype=np.float32)


def elastic(mask: np.ndarray, rng: np.random.Generator, alpha: float = 2.0) -> np.ndarray:
    """Smooth random displacement: hand tremor and uneven paper."""
    h, w = mask.shape
    grid = (max(2, h // 16), max(2, w // 16))
    fields = [_upsample(rng.normal(0, alpha, size=grid), h, w) for _ in range(2)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = [yy + fields[0], xx + fields[1]]
    return ndimage.map_coordinates(mask, coords, order=1, mode="constant")


def _upsample(coarse: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling of a small random field to (h, w): smooth noise, cheaply."""
    img = Image.fromarray(coarse.astype(np.float32), mode="F")
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)


def paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A paper background (H, W) float32 in [0, 255]: tint, stains, grain."""
    base = rng.uniform(175, 255)
    bg = np.full((h, w), base, np.float32)
    if rng.random() < 0.6:  # low-frequency stains and uneven lighting
        bg += _upsample(rng.normal(0, rng.uniform(2, 14), size=(3, max(2, w // 48))), h, w)
    if rng.random() < 0.5:  # paper grain
        bg += rng.normal(0, rng.uniform(1, 6), size=(h, w)).astype(np.float32)
    return bg


def ruled_lines(bg: np.ndarray, baseline: int, rng: np.random.Generator) -> None:
    """Draw faint ruled lines in place: the baseline of lined paper and sometimes the next."""
    h = bg.shape[0]
    tone = rng.uniform(20, 70)
    for y in (baseline, baseline - int(rng.uniform(0.7, 1.0) * h)):
        if 0 <= y < h:
            bg[y] -= tone


def compose(mask: np.ndarray, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lay ink of a random colour on the paper; returns float32 in [0, 255]."""
    ink = rng.uniform(0, min(100, float(bg.mean()) - 70))
    opacity = rng.uniform(0.75, 1.0)
    return bg * (1 - mask * opacity) + ink * mask * opacity


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scanner and camera artefacts: blur, noise, contrast, JPEG; returns uint8."""
    out = np.clip(img, 0, 255).astype(np.uint8)
    pil = Image.fromarray(out)
    if rng.random() < 0.4:  # radius as at 64 px (the real lines' height), scaled to this one
        radius = float(rng.uniform(0.3, 1.2)) * out.shape[0] / 64
        pil = pil.filter(ImageFilter.GaussianBlur(radius=radius))
    arr = np.asarray(pil, dtype=np.float32)
    if rng.random() < 0.4:
        arr += rng.normal(0, rng.uniform(2, 10), size=arr.shape)
    if rng.random() < 0.3:  # low contrast: faded ink or a grey scan
        lo, hi = rng.uniform(0, 60), rng.uniform(200, 255)
        arr = lo + arr * (hi - lo) / 255.0
    out = np.clip(arr, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(25, 90)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    return out


def distort_real(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training-time variation of a real (H, W) uint8 line: width, slant, contrast, blur."""
    h, w = img.shape
    if rng.random() < 0.7:  # writers differ in letter width
        w = max(8, int(w * rng.uniform(0.8, 1.2)))
        img = np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    if rng.random() < 0.5:  # writers differ in slant: change the ink, keep the paper
        paper = float(np.percentile(img, 90))
        ink = np.clip((paper - img.astype(np.float32)) / max(paper, 1.0), 0, 1)
        ink = slant(ink, rng, max_shear=0.3)
        img = np.clip(paper * (1 - ink), 0, 255).astype(np.uint8)
    out = img.astype(np.float32)
    if rng.random() < 0.5:
        lo, hi = rng.uniform(0, 50), rng.uniform(205, 255)
        out = lo + out * (hi - lo) / 255.0
    if rng.random() < 0.2:
        out = np.asarray(
            Image.fromarray(out.astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 0.9)))
            ),
            dtype=np.float32,
        )
    return np.clip(out, 0, 255).astype(np.uint8)


def warp_pen(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real (H, W) uint8 line with its ink warped elastically half the time and its strokes
    thickened some of the time: more variety for a few lines seen many times (fine-tuning)."""
    paper = float(np.percentile(img, 90))
    ink = np.clip((paper - img.astype(np.float32)) / max(paper, 1.0), 0, 1)
    if rng.random() < 0.5:
        ink = elastic(ink, rng, alpha=float(rng.uniform(0.5, 1.5)))
    if rng.random() < 0.5:  # the font size stroke_width expects: 0.6 of the line height
        ink = stroke_width(ink, rng, int(img.shape[0] * 0.6))
    return np.clip(paper * (1 - ink), 0, 255).astype(np.uint8)
