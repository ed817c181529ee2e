"""The finder's maps to lines, in TorchScript: baselines from the baseline map, each line's
region grown from its baseline, and the region's outline as a polygon.

All of it works in map pixels on (h, w) tensors; `recognizer.page_finder` converts to page
pixels. Connected components are found without scipy (TorchScript has none): the mask's
horizontal runs are the nodes, runs touching from one row to the next the edges, and labels
are merged by hooking and pointer jumping over those edges, a few vectorised rounds.
"""

from __future__ import annotations

from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch
import torch.nn.functional as F


def _row_runs(mask: torch.Tensor) -> torch.Tensor:
    """(h, w) bool -> (h * w,) int64: the id (from 1) of each pixel's horizontal run, 0 off it."""
    m = mask.to(torch.int64)
    left = F.pad(m[:, :-1], [1, 0])  # each pixel's left neighbour, paper beyond the edge
    start = (m - left).clamp(min=0)
    return torch.cumsum(start.flatten(), 0) * m.flatten()


def _run_edges(runs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: UP006
    """Pairs of run ids that touch from one row to the next (straight or diagonally)."""
    above, below = runs[:-1], runs[1:]
    a = torch.cat([above.flatten(), above[:, :-1].flatten(), above[:, 1:].flatten()])
    b = torch.cat([below.flatten(), below[:, 1:].flatten(), below[:, :-1].flatten()])
    keep = (a > 0) & (b > 0)
    return a[keep], b[keep]


def label_components(mask: torch.Tensor, max_rounds: int = 100) -> torch.Tensor:
    """(h, w) bool -> (h, w) int64: 8-connected components, each labelled by its smallest run
    id (not consecutive), 0 off the mask."""
    h, w = mask.size(0), mask.size(1)
    runs = _row_runs(mask)
    n_runs = int(runs.max()) if runs.numel() > 0 else 0
    if n_runs == 0:
        return torch.zeros([h, w], dtype=torch.int64)
    a, b = _run_edges(runs.view(h, w))
    # every run points at a run of its component with a smaller id: hook touching runs (and
    # their targets) to the smaller target, then jump pointers, until nothing changes
    label = torch.arange(n_runs + 1)
    for _ in range(max_rounds):
        low = torch.minimum(label[a], label[b])
        new = label.clone()
        for ends in (a, b, label[a], label[b]):
            new = new.scatter_reduce(0, ends, low, "amin", include_self=True)
        new = new[new][new[new]]
        if torch.equal(new, label):
            break
        label = new
    return label[runs].view(h, w)


def split_by_label(
    labels: torch.Tensor,
) -> Tuple[List[int], List[torch.Tensor], List[torch.Tensor]]:  # noqa: UP006
    """Labels present (ascending) with the y and x coordinates of each one's pixels."""
    w = labels.size(1)
    flat = labels.flatten()
    idx = torch.nonzero(flat > 0).flatten()
    if idx.numel() == 0:
        return [], [], []
    lab = flat[idx]
    order = torch.argsort(lab)
    idx, lab = idx[order], lab[order]
    keys, counts = torch.unique_consecutive(lab, return_counts=True)
    sizes: List[int] = counts.tolist()  # noqa: UP006
    ys = list(torch.split(idx // w, sizes))
    xs = list(torch.split(idx % w, sizes))
    present: List[int] = keys.tolist()  # noqa: UP006
    return present, ys, xs


def baseline_of(
    ys: torch.Tensor, xs: torch.Tensor, weight: torch.Tensor, step: int
) -> torch.Tensor:
    """One component of the baseline band -> its centre line (K, 2) as map (x, y): the
    probability-weighted mean row of each column, smoothed, every `step` columns and at both
    ends."""
    x0 = int(xs.min())
    width = int(xs.max()) - x0 + 1
    col = xs - x0
    sums = torch.zeros(width).index_add_(0, col, ys.float() * weight)
    mass = torch.zeros(width).index_add_(0, col, weight).clamp(min=1e-6)
    mean = sums / mass
    if width >= 5:  # a 5-column box: handwriting's baseline wobbles, the line does not
        padded = F.pad(mean[None, None], [2, 2], mode="replicate")
        mean = F.avg_pool1d(padded, 5, 1)[0, 0]
    picks = torch.arange(0, width, step)
    if int(picks[-1]) != width - 1:
        picks = torch.cat([picks, torch.tensor([width - 1])])
    points = torch.stack([(picks + x0).float() + 0.5, mean[picks] + 0.5], 1)
    points[0, 0] = float(x0)  # the ends reach the band's outer edges
    points[-1, 0] = float(x0 + width)
    return points


def grow_regions(seeds: torch.Tensor, region: torch.Tensor, max_rounds: int) -> torch.Tensor:
    """(h, w) int64 seed labels grown through the (h, w) bool region mask, one pixel (8-way)
    per round; where two lines' growth meets, the pixel goes to the one that got there first."""
    h, w = seeds.size(0), seeds.size(1)
    labels = seeds.clone()
    free = region & (seeds == 0)
    for _ in range(max_rounds):
        pooled = F.max_pool2d(labels.view(1, 1, h, w).float(), 3, 1, 1)[0, 0].long()
        take = free & (pooled > 0)
        if not bool(take.any()):
            break
        labels = torch.where(take, pooled, labels)
        free = free & ~take
    return labels


def outline(ys: torch.Tensor, xs: torch.Tensor, step: int) -> torch.Tensor:
    """A line's region pixels -> an x-monotone polygon (2K, 2) as map (x, y) edges: the top
    edge left to right, then the bottom edge right to left (the same x), each point the
    extreme of `step` columns."""
    x0 = int(xs.min())
    width = int(xs.max()) - x0 + 1
    col = xs - x0
    big = 1 << 30
    top = torch.full([width], big, dtype=torch.int64).scatter_reduce(0, col, ys, "amin")
    bottom = torch.full([width], -1, dtype=torch.int64).scatter_reduce(0, col, ys, "amax")
    n = (width + step - 1) // step
    pad = n * step - width
    # columns past the right end repeat the last one: they change no extreme
    top = F.pad(top[None].float(), [0, pad], mode="replicate")[0].view(n, step).amin(1)
    bottom = F.pad(bottom[None].float(), [0, pad], mode="replicate")[0].view(n, step).amax(1)
    # window centres, and the region's outer edges at both ends: strictly increasing x
    centres = (torch.arange(n).float() + 0.5) * step + x0
    centres[-1] = min(float(centres[-1]), x0 + width - 0.5)
    xs_pt = torch.cat([torch.tensor([float(x0)]), centres, torch.tensor([float(x0 + width)])])
    top = torch.cat([top[:1], top, top[-1:]])
    bottom = torch.cat([bottom[:1], bottom, bottom[-1:]]) + 1.0
    upper = torch.stack([xs_pt, top], 1)
    lower = torch.stack([xs_pt, bottom], 1).flip(0)
    return torch.cat([upper, lower], 0)
