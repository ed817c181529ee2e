"""Reading order of found lines, in TorchScript: columns left to right, lines top to bottom.

Lines that overlap horizontally (by a third of the shorter one) chain into blocks: a column,
a marginal note, a cell column of a register. Blocks side by side are read left to right,
blocks one above the other top to bottom, and a block's lines top to bottom (left to right
when they sit on the same row).
"""

from __future__ import annotations

from typing import List  # noqa: UP035 - TorchScript needs typing's generics

import torch


def _find(parent: List[int], i: int) -> int:  # noqa: UP006
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _blocks(x0: List[float], x1: List[float]) -> List[List[int]]:  # noqa: UP006
    """Lines chained by horizontal overlap, each block's lines in index order."""
    n = len(x0)
    parent = list(range(n))
    for i in range(n):
        for j in range(i + 1, n):
            shorter = min(x1[i] - x0[i], x1[j] - x0[j])
            if _overlap(x0[i], x1[i], x0[j], x1[j]) >= shorter / 3.0:
                parent[_find(parent, i)] = _find(parent, j)
    members: List[List[int]] = []  # noqa: UP006
    roots: List[int] = []  # noqa: UP006
    for i in range(n):
        r = _find(parent, i)
        if r in roots:
            members[roots.index(r)].append(i)
        else:
            roots.append(r)
            members.append([i])
    return members


def _insertion_sort(items: List[int], keys: List[List[float]], tol: float) -> List[int]:  # noqa: UP006
    """Sort by row (key 0, within `tol` counts as the same row), then by key 1 on a row."""
    out: List[int] = []  # noqa: UP006
    for item in items:
        pos = len(out)
        while pos > 0:
            prev = out[pos - 1]
            same_row = abs(keys[prev][0] - keys[item][0]) < tol
            later = keys[prev][1] > keys[item][1] if same_row else keys[prev][0] > keys[item][0]
            if not later:
                break
            pos -= 1
        out.insert(pos, item)
    return out


def reading_order(baselines: List[torch.Tensor], polygons: List[torch.Tensor]) -> List[int]:  # noqa: UP006
    """Indices of the lines (baseline (K, 2), polygon (P, 2) in page x, y) in reading order."""
    n = len(baselines)
    if n == 0:
        return []
    x0: List[float] = []  # noqa: UP006
    x1: List[float] = []  # noqa: UP006
    y: List[float] = []  # noqa: UP006
    heights: List[float] = []  # noqa: UP006
    for i in range(n):
        x0.append(float(baselines[i][:, 0].min()))
        x1.append(float(baselines[i][:, 0].max()))
        y.append(float(baselines[i][:, 1].mean()))
        heights.append(float(polygons[i][:, 1].max() - polygons[i][:, 1].min()))
    height = float(torch.tensor(heights).median())
    blocks = _blocks(x0, x1)
    # a block's box: blocks whose rows overlap are side by side, read left to right
    block_keys: List[List[float]] = []  # noqa: UP006
    for members in blocks:
        top = min([y[i] for i in members])
        bottom = max([y[i] for i in members])
        left = min([x0[i] for i in members])
        # half a line above and below: a one-line block still has rows to overlap with
        block_keys.append([top - 0.5 * height, left, bottom + 0.5 * height])
    order = _block_order(block_keys)
    out: List[int] = []  # noqa: UP006
    line_keys: List[List[float]] = [[y[i], x0[i]] for i in range(n)]  # noqa: UP006
    for b in order:
        out.extend(_insertion_sort(blocks[b], line_keys, 0.5 * height))
    return out


def _block_order(keys: List[List[float]]) -> List[int]:  # noqa: UP006
    """Blocks (top, left, bottom): one whose rows overlap another's comes after it if it is
    to its right; otherwise the higher one first."""
    out: List[int] = []  # noqa: UP006
    for b in range(len(keys)):
        pos = len(out)
        while pos > 0:
            prev = out[pos - 1]
            side_by_side = _overlap(keys[prev][0], keys[prev][2], keys[b][0], keys[b][2]) > 0.0
            later = keys[prev][1] > keys[b][1] if side_by_side else keys[prev][0] > keys[b][0]
            if not later:
                break
            pos -= 1
        out.insert(pos, b)
    return out
