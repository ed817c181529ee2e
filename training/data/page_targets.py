"""A page with its lines -> the line finder's input and target maps, whole or as training crops.

The input is `recognizer.page_input.page_input` of the page, exactly what serving computes; the
targets are MAPS at MAP_STRIDE, where a page point p lies at map coordinate p * scale /
MAP_STRIDE (map pixel j spans j to j + 1, so its centre is the page point (j + 0.5) *
MAP_STRIDE / scale, as docs/pages.md says).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from htr.errors import ConfigError
from recognizer.finder import MAP_STRIDE, MAPS
from recognizer.page_input import MULTIPLE, page_input
from training.data.page_samples import PageLine, PageSample

BAND = 3  # map pixels: the thickness of the baseline band


def page_targets(sample: PageSample, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, H', W') finder input of the page at `size` and its float (2, H'/2, W'/2) targets."""
    image = sample.image if sample.image.flags.writeable else sample.image.copy()
    x, scale = page_input(torch.from_numpy(image).float(), size)
    shape = (x.shape[2] // MAP_STRIDE, x.shape[3] // MAP_STRIDE)
    return x[0], rasterize(sample.lines, scale / MAP_STRIDE, shape)


def rasterize(lines: list[PageLine], factor: float, shape: tuple[int, int]) -> torch.Tensor:
    """Float (2, H, W) maps of MAPS: baseline bands and polygon interiors; page points are
    multiplied by `factor` to map coordinates."""
    h, w = shape
    layers = {name: Image.new("L", (w, h), 0) for name in MAPS}
    base, region = ImageDraw.Draw(layers["baseline"]), ImageDraw.Draw(layers["region"])
    for line in lines:
        poly, pts = _pixels(line.polygon, factor), _pixels(line.baseline, factor)
        if len(poly) >= 3:
            region.polygon(poly, fill=1)
        if len(pts) >= 2:
            base.line(pts, fill=1, width=BAND, joint="curve")
    maps = np.stack([np.asarray(layers[name], dtype=np.float32) for name in MAPS])
    return torch.from_numpy(maps)


def _pixels(points: list[tuple[float, float]], factor: float) -> list[tuple[int, int]]:
    """Page points -> the map pixels that hold them (PIL truncates float coordinates)."""
    # map pixel j spans map coordinates j to j + 1; PIL draws pixel j's centre at j
    return [(round(x * factor - 0.5), round(y * factor - 0.5)) for x, y in points]


def random_crop(
    x: torch.Tensor, targets: torch.Tensor, crop: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A crop x crop window of the input and its targets, padded with paper if the page is
    smaller; the window starts on the network's 16-pixel grid, as the whole page's does."""
    if crop % MULTIPLE:
        raise ConfigError(f"crop={crop}; use a multiple of {MULTIPLE}, such as 512")
    h, w = x.shape[1], x.shape[2]
    top = int(rng.integers(0, max(h - crop, 0) // MULTIPLE + 1)) * MULTIPLE
    left = int(rng.integers(0, max(w - crop, 0) // MULTIPLE + 1)) * MULTIPLE
    out = x.new_zeros(1, crop, crop)  # zero is paper in the ink-positive input
    part = x[:, top : top + crop, left : left + crop]
    out[:, : part.shape[1], : part.shape[2]] = part
    m, t, lm = crop // MAP_STRIDE, top // MAP_STRIDE, left // MAP_STRIDE
    maps = targets.new_zeros(targets.shape[0], m, m)
    part = targets[:, t : t + m, lm : lm + m]
    maps[:, : part.shape[1], : part.shape[2]] = part
    return out, maps


def jitter_page(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real page's grey levels varied as exposure and paper vary: gamma, contrast, brightness."""
    grey = image.astype(np.float32) / 255.0
    grey = grey ** float(rng.uniform(0.7, 1.4))
    lo, hi = float(rng.uniform(0.0, 0.25)), float(rng.uniform(0.75, 1.0))
    grey = lo + grey * (hi - lo)
    return np.clip(grey * 255.0, 0, 255).astype(np.uint8)


def training_crops(
    sample: PageSample,
    size: int,
    crop: int,
    n: int,
    rng: np.random.Generator,
    augment: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` random crops of the page, (n, 1, crop, crop) inputs and (n, 2, crop/2, crop/2)
    targets; `augment` varies its grey levels and its scale (the text size the finder sees)."""
    if augment:
        sample = PageSample(jitter_page(sample.image, rng), sample.lines, sample.key)
    zoom = float(rng.uniform(0.85, 1.15)) if augment else 1.0
    x, targets = page_targets(sample, int(round(size * zoom)))
    pairs = [random_crop(x, targets, crop, rng) for _ in range(n)]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
