"""Where the lines of a synthetic page go: margins, a date, paragraphs, columns, a signature and
marginal notes, on plain or ruled paper, in reading order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Slot:
    """The room of one line on the flat sheet, and how the writer fills it."""

    x0: float
    x1: float
    y: float  # the baseline at the line's first ink
    block: int  # lines of one block are read top to bottom; blocks in increasing order
    align: str = "left"  # "left" | "right"
    fill: float = 1.0  # share of the room the words may take (a paragraph's end is short)
    words: int = 0  # at most this many words (dates, signatures, notes); 0: as many as fit
    hand: int = 0  # 0: the page's writer; 1: a smaller (maybe another) hand


class _Rows:
    """Baseline positions: free on plain paper, on the rules of ruled paper."""

    def __init__(self, spacing: float, rules: list[float], rng: np.random.Generator) -> None:
        self.spacing, self.rules, self.rng = spacing, rules, rng

    def snap(self, y: float) -> float:
        """The first rule at or below y (ruled paper), or y itself."""
        later = [r for r in self.rules if r >= y - 1]
        return later[0] if later and self.rules else y

    def next(self, y: float, gap: float = 1.0) -> float:
        """The baseline `gap` lines below y: jittered by hand, or the rule that many below."""
        if self.rules:
            return self.snap(y + gap * self.spacing - self.spacing / 2)
        return y + gap * self.spacing * float(self.rng.normal(1.0, 0.04))


def layout(
    h: int,
    w: int,
    spacing: float,
    ruled: bool,
    rng: np.random.Generator,
    columns: float,
    note: float,
) -> tuple[list[Slot], list[float]]:
    """The slots of a page in reading order, and the rules' rows (empty on plain paper)."""
    left, right = w * rng.uniform(0.05, 0.14), w * (1 - rng.uniform(0.03, 0.09))
    top, bottom = h * rng.uniform(0.04, 0.14), h * (1 - rng.uniform(0.04, 0.1))
    with_note = rng.random() < note
    if with_note:
        left = max(left, w * rng.uniform(0.24, 0.32))
    rules: list[float] = []
    if ruled:
        first = h * rng.uniform(0.03, 0.1)
        rules = list(np.arange(first, h - spacing / 2, spacing))
    rows = _Rows(spacing, rules, rng)
    y = rows.snap(top + spacing)
    slots: list[Slot] = []
    if rng.random() < 0.3:  # a date or a place, top right
        slots.append(Slot(right - (right - left) * 0.4, right, y, 0, "right", 1.0, 4))
        y = rows.next(y, float(rng.uniform(1.5, 3.0)))
    end = bottom if rng.random() < 0.6 else y + (bottom - y) * rng.uniform(0.15, 1.0)
    n_cols = 2 if rng.random() < columns else 1
    if n_cols == 2:
        gutter = w * rng.uniform(0.03, 0.06)
        mid = (left + right) / 2
        spans = [(left, mid - gutter / 2), (mid + gutter / 2, right)]
    else:
        spans = [(left, right)]
    last = y
    for c, (x0, x1) in enumerate(spans):
        last = max(last, _column(slots, rows, x0, x1, y, end, 1 + c, rng))
    sign = rows.next(last, float(rng.uniform(1.0, 2.0)))
    if rng.random() < 0.25 and sign <= bottom:  # a signature, bottom right
        slots.append(Slot(left + (right - left) * 0.5, right, sign, 1 + n_cols, "right", 1.0, 3))
    if with_note:
        _note(slots, rows, w * rng.uniform(0.03, 0.06), left - w * 0.03, y, end, rng)
    return slots, rules


def _column(
    slots: list[Slot],
    rows: _Rows,
    x0: float,
    x1: float,
    y: float,
    end: float,
    block: int,
    rng: np.random.Generator,
) -> float:
    """Paragraphs from y down to `end`; returns the last baseline."""
    indent = rows.spacing * float(rng.uniform(0, 2.5)) if rng.random() < 0.6 else 0.0
    last = y
    while y <= end:
        closes = rng.random() < 0.12  # the paragraph ends on this line: shorter
        fill = float(rng.uniform(0.2, 0.9)) if closes else float(rng.uniform(0.88, 1.0))
        slots.append(Slot(x0 + indent, x1, y, block, "left", fill))
        last = y
        indent = rows.spacing * float(rng.uniform(0.5, 2.5)) if closes else 0.0
        y = rows.next(y, 2.0 if closes and rng.random() < 0.3 else 1.0)
    return last


def _note(
    slots: list[Slot],
    rows: _Rows,
    x0: float,
    x1: float,
    y: float,
    end: float,
    rng: np.random.Generator,
) -> None:
    """A few short lines in the left margin, beside the text, read after it."""
    if x1 - x0 < rows.spacing * 2:
        return
    block = max((s.block for s in slots), default=0) + 1
    y = rows.snap(y + (max(end, y) - y) * float(rng.uniform(0, 0.6)))
    hand = int(rng.random() < 0.7)
    for _ in range(int(rng.integers(1, 5))):
        slots.append(Slot(x0, x1, y, block, "left", 1.0, int(rng.integers(1, 4)), hand))
        y = rows.next(y, 0.85 if not rows.rules else 1.0)
