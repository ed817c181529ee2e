"""The page half of the model file: the finder network, its maps turned into lines in
reading order, and each line cut from the page for the recognizer."""

from __future__ import annotations

import math
from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch
from torch import nn

from recognizer.confidence import interp
from recognizer.finder import MAP_STRIDE, FinderConfig, FinderNet
from recognizer.fold import fold_batch_norm
from recognizer.page_input import page_input
from recognizer.page_lines import (
    baseline_of,
    grow_regions,
    label_components,
    outline,
    split_by_label,
)
from recognizer.page_order import reading_order


class PageFinder(nn.Module):
    """(H, W) float page, dark ink on light paper -> its lines (polygon, baseline) in page
    pixels, in reading order."""

    def __init__(self, net: FinderNet, config: FinderConfig, threshold: float = 0.5) -> None:
        super().__init__()
        self.net = fold_batch_norm(net).to(memory_format=torch.channels_last)
        self.size = config.size
        self.stride = MAP_STRIDE
        self.threshold = threshold  # map probability that counts as baseline or region
        # map pixels: shorter baseline fragments are specks, not lines; and a page's lines
        # are at least this share of its median line (_shortest). Why these values:
        # experiments/pages.md, "Short fragments"
        self.min_length = 10
        self.min_share = 0.2
        self.step = 4  # map pixels between the points of baselines and outlines
        # a region grows at most this far (map pixels) from its baseline: past any ascender
        self.max_growth = 64
        self.eval()

    def forward(self, grey: torch.Tensor) -> List[Tuple[torch.Tensor, torch.Tensor]]:  # noqa: UP006
        x, scale = page_input(grey, self.size)
        probs = torch.sigmoid(self.net(x.contiguous(memory_format=torch.channels_last)))[0].detach()
        h = int(math.ceil(grey.size(0) * scale / self.stride))
        w = int(math.ceil(grey.size(1) * scale / self.stride))
        return self.lines_from_maps(probs[:, :h, :w].float(), scale, grey.size(0), grey.size(1))

    @torch.jit.export
    def lines_from_maps(
        self, probs: torch.Tensor, scale: float, height: int, width: int
    ) -> List[Tuple[torch.Tensor, torch.Tensor]]:  # noqa: UP006
        """(2, h, w) map probabilities of a page of height x width pixels seen at `scale`
        -> (polygon, baseline) per line, page pixels, in reading order."""
        h, w = probs.size(1), probs.size(2)
        band = probs[0] > self.threshold
        keys, ys, xs = split_by_label(label_components(band))
        seeds = torch.zeros(h * w, dtype=torch.int64)
        baselines: List[torch.Tensor] = []  # noqa: UP006
        longs: List[int] = []  # noqa: UP006
        talls: List[int] = []  # noqa: UP006
        for k in range(len(keys)):
            longs.append(int(xs[k].max() - xs[k].min()) + 1)
            talls.append(int(ys[k].max() - ys[k].min()) + 1)
        shortest = self._shortest(longs)
        for k in range(len(keys)):
            if longs[k] < shortest or talls[k] > longs[k]:  # specks, and strokes that stand up
                continue
            baselines.append(baseline_of(ys[k], xs[k], probs[0][ys[k], xs[k]], self.step))
            seeds[ys[k] * w + xs[k]] = len(baselines)
        if len(baselines) == 0:
            return []
        region = (probs[1] > self.threshold) | band
        grown = grow_regions(seeds.view(h, w), region, self.max_growth)
        _, rys, rxs = split_by_label(grown)
        to_page = self.stride / scale
        polygons: List[torch.Tensor] = []  # noqa: UP006
        for i in range(len(baselines)):
            polygons.append(_clip(outline(rys[i], rxs[i], self.step) * to_page, height, width))
            baselines[i] = _clip(baselines[i] * to_page, height, width)
        lines: List[Tuple[torch.Tensor, torch.Tensor]] = []  # noqa: UP006
        for i in reading_order(baselines, polygons):
            lines.append((polygons[i], baselines[i]))
        return lines

    def _shortest(self, longs: List[int]) -> int:  # noqa: UP006
        """The shortest baseline kept, in map pixels: `min_length`, or `min_share` of the
        page's median line if longer (a page of long lines has no two-letter lines, and its
        short fragments are stains, stamps and show-through; a register keeps its cells)."""
        lines: List[int] = []  # noqa: UP006
        for n in longs:
            if n >= self.min_length:
                lines.append(n)
        if len(lines) == 0:
            return self.min_length
        median = float(torch.tensor(lines, dtype=torch.float32).median())
        return max(self.min_length, int(self.min_share * median))


def _clip(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    x = points[:, 0].clamp(0.0, float(width))
    y = points[:, 1].clamp(0.0, float(height))
    return torch.stack([x, y], 1)


def cut_line(grey: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    """(H, W) float page and an x-monotone polygon as find_lines makes it (the top edge left
    to right, then the bottom edge right to left, at the same x) -> the uint8 box around it,
    paper colour outside it: how the training lines were cut from their pages."""
    half = polygon.size(0) // 2
    upper, lower = polygon[:half], polygon[half:].flip(0)
    x0 = max(0, int(math.floor(float(polygon[:, 0].min()))))
    x1 = min(grey.size(1), int(math.ceil(float(polygon[:, 0].max()))))
    y0 = max(0, int(math.floor(float(polygon[:, 1].min()))))
    y1 = min(grey.size(0), int(math.ceil(float(polygon[:, 1].max()))))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return torch.full([2, 2], 255, dtype=torch.uint8)
    crop = grey[y0:y1, x0:x1]
    cols = torch.arange(x0, x1).float() + 0.5
    rows = torch.arange(y0, y1).float() + 0.5
    top = interp(cols, upper[:, 0].contiguous(), upper[:, 1].contiguous())
    bottom = interp(cols, lower[:, 0].contiguous(), lower[:, 1].contiguous())
    inside = (rows[:, None] >= top[None, :]) & (rows[:, None] < bottom[None, :])
    # inside the polygon ink is the minority, so its median is the paper
    paper = crop[inside].median() if bool(inside.any()) else torch.tensor(255.0)
    return torch.where(inside, crop, paper).round().clamp(0, 255).to(torch.uint8)
