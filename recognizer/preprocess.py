"""Pixels to model input, in TorchScript: the one implementation training and serving share."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_WIDTH = 4096  # widest model input in pixels: longer lines are squeezed (serving does too)


def to_grey(image: torch.Tensor) -> torch.Tensor:
    """uint8 (H, W) or (H, W, C) with C in 1, 3, 4 -> float (H, W) in [0, 255].

    Alpha is composited on white paper. Raises ValueError naming what was wrong.
    """
    if image.dtype != torch.uint8:
        raise ValueError(
            f"image must be a uint8 tensor, got dtype {image.dtype}; "
            "convert with (x * 255).to(torch.uint8) or decode the file as 8-bit"
        )
    if image.dim() == 2:
        grey = image.float()
    elif image.dim() == 3 and image.size(2) == 1:
        grey = image[:, :, 0].float()
    elif image.dim() == 3 and (image.size(2) == 3 or image.size(2) == 4):
        rgb = image[:, :, :3].float()
        if image.size(2) == 4:
            alpha = image[:, :, 3:].float() / 255.0
            rgb = rgb * alpha + 255.0 * (1.0 - alpha)
        # ITU-R BT.601 luma weights, as PIL's convert("L") uses.
        grey = rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114
    else:
        raise ValueError(
            f"image must be HxW or HxWxC with C in (1, 3, 4), got shape "
            f"{list(image.shape)}; pass one line image as greyscale, RGB or RGBA"
        )
    if grey.size(0) < 2 or grey.size(1) < 2:
        raise ValueError(
            f"image is {grey.size(0)}x{grey.size(1)} pixels; send a line image at least 2x2 pixels"
        )
    return grey


def _every(grey: torch.Tensor, per_side: int) -> torch.Tensor:
    """About `per_side` pixels along the shorter side, the same stride along both: a sample."""
    step = max(1, min(grey.size(0), grey.size(1)) // per_side)
    return grey[::step, ::step].flatten()


def normalise_polarity(grey: torch.Tensor) -> torch.Tensor:
    """Dark ink on light paper: paper is most of a line, so a dark median means inverted."""
    if float(_every(grey, 16).median()) < 128.0:
        return 255.0 - grey
    return grey


def crop_to_ink(grey: torch.Tensor, margin: float = 0.05) -> torch.Tensor:
    """(H, W) float, dark ink on light paper -> the box around the ink, plus `margin` of its
    height on every side. An image without clear ink comes back whole."""
    h, w = grey.size(0), grey.size(1)
    sample = _every(grey, 64)
    paper = float(sample.median())
    # the ink level: the darkest 0.2%, not the minimum (one blot is not the ink), and few
    # enough that a short line in a photo of mostly paper still has that many ink pixels
    # (the largest of the k smallest: the k-th value, as kthvalue gives, but faster; why:
    # experiments/decoding.md, "The network in bfloat16")
    k = max(1, int(0.002 * sample.numel()))
    ink = float(torch.topk(sample, k, largest=False, sorted=False)[0].max())
    if paper - ink < 48.0:  # nothing clearly darker than the paper: no ink to find
        return grey
    # nearer the paper than the ink: faint strokes count as ink, paper grain does not
    dark = grey < paper - 0.3 * (paper - ink)  # (H, W)
    # rows or columns dark across most of the image are rules and borders, not text
    rule = dark.sum(1) > 0.6 * w  # (H,)
    border = dark.sum(0) > 0.9 * h  # (W,)
    dark = dark & ~rule[:, None] & ~border[None, :]
    # a row or column holds ink if 2 of its pixels do: one speck does not stretch the box
    rows = torch.nonzero(dark.sum(1) >= 2).flatten()
    cols = torch.nonzero(dark.sum(0) >= 2).flatten()
    if rows.numel() == 0 or cols.numel() == 0:
        return grey
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    pad = max(1, int(round(margin * (y1 - y0))))
    y0, y1 = max(y0 - pad, 0), min(y1 + pad, h)
    x0, x1 = max(x0 - pad, 0), min(x1 + pad, w)
    return grey[y0:y1, x0:x1]


def fit_height(
    grey: torch.Tensor, height: int, max_width: int, crop: bool = False, x_scale: float = 1.0
) -> torch.Tensor:
    """(H, W) float, dark ink on light paper -> (height, W'): the model's view of a line,
    cropped to its ink first if `crop`. Training and serving both call this."""
    if crop:
        grey = crop_to_ink(grey)
    return resize_to_height(grey, height, max_width, x_scale)


def resize_to_height(
    grey: torch.Tensor, height: int, max_width: int, x_scale: float = 1.0
) -> torch.Tensor:
    """(H, W) float -> (height, W') keeping the aspect ratio times `x_scale` (below 1 squeezes
    the line: fewer columns to compute), W' capped at `max_width`."""
    width = int(round(grey.size(1) * height / grey.size(0) * x_scale))
    width = min(max(width, 4), max_width)
    out = F.interpolate(
        grey[None, None], size=[height, width], mode="bilinear", align_corners=False, antialias=True
    )
    return out[0, 0]


def to_ink(grey: torch.Tensor) -> torch.Tensor:
    """Greyscale 0..255 -> network input with ink 1 and paper 0 (padding is paper)."""
    return (1.0 - grey / 255.0).clamp(0.0, 1.0)
