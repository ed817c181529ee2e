"""A page's pixels to the line finder's input, in TorchScript: training and serving share it."""

from __future__ import annotations

from typing import Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch
import torch.nn.functional as F

MULTIPLE = 16  # the finder halves the page four times (TorchScript reads it as a default)


def page_scale(height: int, width: int, size: int) -> float:
    """The factor that brings the page's long side to `size` pixels."""
    return float(size) / float(max(height, width))


def page_input(
    grey: torch.Tensor, size: int, multiple: int = MULTIPLE
) -> Tuple[torch.Tensor, float]:  # noqa: UP006
    """(H, W) float 0..255, dark ink on light paper -> ((1, 1, H', W') finder input, scale).

    The page is scaled so that its long side is `size` (H' and W' padded with paper to
    multiples of 16) and divided by its paper level, so that ink is near 1 and paper is 0
    whatever the exposure: a grey photo and a white scan look alike to the network.
    """
    scale = page_scale(grey.size(0), grey.size(1), size)
    h = max(multiple, int(round(grey.size(0) * scale)))
    w = max(multiple, int(round(grey.size(1) * scale)))
    small = F.interpolate(
        grey[None, None], size=[h, w], mode="bilinear", align_corners=False, antialias=True
    )
    step = max(1, min(h, w) // 64)
    paper = max(float(small[0, 0, ::step, ::step].median()), 32.0)
    ink = (1.0 - small / paper).clamp(0.0, 1.0)
    pad_h = (multiple - h % multiple) % multiple
    pad_w = (multiple - w % multiple) % multiple
    return F.pad(ink, [0, pad_w, 0, pad_h]), scale
