"""Reading order of found lines, in TorchScript.

Lines that overlap horizontally (by a third of the shorter one) chain into blocks: a column,
a marginal note, a cell column of a register. Two or more blocks that are text columns (three
lines or more, over a third of the text's height, their lines mostly on rows of their own
rather than a table's shared rows) are read column by column, left to right.
Otherwise the page is one flow of rows, top to bottom and left to right on a row, as a letter
or a register's table is read, with short notes in the margin after it. Why these rules:
experiments/pages.md, "Reading order".
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
    tol = 0.5 * float(torch.tensor(heights).median())  # lines this close in y share a row
    keys: List[List[float]] = [[y[i], x0[i]] for i in range(n)]  # noqa: UP006
    blocks = _blocks(x0, x1)
    span = max(y) - min(y)
    columns: List[int] = []  # noqa: UP006
    for b in range(len(blocks)):
        ys = [y[i] for i in blocks[b]]
        if len(blocks[b]) >= 3 and max(ys) - min(ys) >= 0.3 * span:
            columns.append(b)
    if len(columns) >= 2 and not _aligned(blocks, columns, y, tol):
        return _by_columns(blocks, columns, keys, tol)
    return _by_rows(blocks, x0, x1, keys, tol)


def _aligned(blocks: List[List[int]], columns: List[int], y: List[float], tol: float) -> bool:  # noqa: UP006
    """Whether most lines of the columns sit on a row shared with another column: the cells
    of a table, read row by row, not text columns."""
    shared = 0
    total = 0
    for c in columns:
        for i in blocks[c]:
            total += 1
            for other in columns:
                if other != c and min([abs(y[j] - y[i]) for j in blocks[other]]) < tol:
                    shared += 1
                    break
    return shared > total // 2


def _by_columns(
    blocks: List[List[int]],  # noqa: UP006
    columns: List[int],  # noqa: UP006
    keys: List[List[float]],  # noqa: UP006
    tol: float,
) -> List[int]:  # noqa: UP006
    """Text columns left to right, each top to bottom; what lies above every column first
    (a heading), everything else after them (notes), each top to bottom."""
    top = min([min([keys[i][0] for i in blocks[b]]) for b in columns])
    column_keys: List[List[float]] = [[keys[blocks[b][0]][1], 0.0] for b in columns]  # noqa: UP006
    head: List[int] = []  # noqa: UP006
    tail: List[int] = []  # noqa: UP006
    for b in range(len(blocks)):
        if b not in columns:
            for i in blocks[b]:
                (head if keys[i][0] < top - tol else tail).append(i)
    out = _insertion_sort(head, keys, tol)
    for c in _insertion_sort(list(range(len(columns))), [[k[1], k[0]] for k in column_keys], 0.0):
        out.extend(_insertion_sort(blocks[columns[c]], keys, tol))
    out.extend(_insertion_sort(tail, keys, tol))
    return out


def _by_rows(
    blocks: List[List[int]],  # noqa: UP006
    x0: List[float],  # noqa: UP006
    x1: List[float],  # noqa: UP006
    keys: List[List[float]],  # noqa: UP006
    tol: float,
) -> List[int]:  # noqa: UP006
    """One flow of rows top to bottom, left to right on a row (a letter, a register's table);
    a short note in the margin beside the widest block comes after it."""
    widest = 0
    for b in range(len(blocks)):
        if _width(blocks[b], x0, x1) > _width(blocks[widest], x0, x1):
            widest = b
    left = min([x0[i] for i in blocks[widest]])
    right = max([x1[i] for i in blocks[widest]])
    main: List[int] = []  # noqa: UP006
    notes: List[int] = []  # noqa: UP006
    for b in range(len(blocks)):
        beside = max([x1[i] for i in blocks[b]]) <= left or min([x0[i] for i in blocks[b]]) >= right
        narrow = _width(blocks[b], x0, x1) < 0.5 * (right - left)
        for i in blocks[b]:
            (notes if beside and narrow and len(blocks[b]) <= 3 else main).append(i)
    return _insertion_sort(main, keys, tol) + _insertion_sort(notes, keys, tol)


def _width(block: List[int], x0: List[float], x1: List[float]) -> float:  # noqa: UP006
    return max([x1[i] for i in block]) - min([x0[i] for i in block])
