"""Whole-page measures: baseline detection (the cBAD measure) and page character error rates.

Baselines follow the Transkribus baseline evaluation scheme of the cBAD competitions (Grüning
et al., "READ-BAD", 2017; github.com/Transkribus/TranskribusBaseLineEvaluationScheme) as
kraken's `kraken.lib.segmentation_metrics` restates it with an optimal one-to-one matching:

- every polyline is resampled to points about `SPACING` px apart along its length;
- a point at distance d from the other line's nearest point scores 1 when d <= tol, falls
  linearly to 0 at 3 tol, and 0 beyond;
- for a hypothesis h and a GT line g, precision p(h, g) is the mean score of h's points
  against g, recall r(h, g) that of g's points against h; their F-measure is the pair's score;
- hypotheses and GT lines are paired one to one maximising the summed pair F-measure
  (Hungarian, scipy's linear_sum_assignment);
- page precision = sum of matched p / hypotheses, page recall = sum of matched r / GT lines;
- a set's precision and recall are the means over its pages, its F1 their harmonic mean.

An empty hypothesis on a page with lines scores precision 1 and recall 0 (F1 0), as in the
Transkribus tool: nothing was claimed so nothing claimed is wrong, and the missed lines are
counted once, by the recall; a page without GT lines scores recall 1 and precision 0 when
lines were found, and 1 / 1 / 1 when none were (kraken would give an empty hypothesis
precision 0, and so penalise the same miss twice in the set's mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

SPACING = 5.0  # px between resampled points (the Transkribus tool's and kraken's default)
TOLERANCE = 10.0  # px at the page shards' scale (long side 1600), kraken's figure
FOUND_F = 0.5  # a GT line counts as found when matched with a pair F-measure at least this

Polyline = Sequence[Sequence[float]] | np.ndarray


def resample(line: Polyline, spacing: float = SPACING) -> np.ndarray:
    """Points evenly spread along a polyline, about `spacing` apart, both ends kept."""
    pts = np.asarray(line, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return pts
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    if cum[-1] < 1e-6:
        return pts[:1]
    at = np.linspace(0.0, cum[-1], max(2, round(cum[-1] / spacing)))
    return np.stack([np.interp(at, cum, pts[:, 0]), np.interp(at, cum, pts[:, 1])], axis=1)


def point_scores(dist: np.ndarray, tol: float) -> np.ndarray:
    """1 within `tol`, falling linearly to 0 at 3 `tol` (the Transkribus tool's falloff)."""
    return np.clip((3 * tol - dist) / (2 * tol), 0.0, 1.0)


def _directed(src: list[np.ndarray], dst: list[np.ndarray], tol: float) -> np.ndarray:
    """(len(src), len(dst)): the mean score of each src line's points against each dst line."""
    out = np.zeros((len(src), len(dst)))
    if not src or not dst:
        return out
    lo_d = np.array([d.min(axis=0) for d in dst])
    hi_d = np.array([d.max(axis=0) for d in dst])
    for i, pts in enumerate(src):
        # a line whose box lies 3 tol or more from this one's scores 0: skip its distances
        gap = np.maximum(lo_d - pts.max(axis=0), pts.min(axis=0) - hi_d).max(axis=1)
        near = np.flatnonzero(gap < 3 * tol)
        if not len(near):
            continue
        every = np.concatenate([dst[j] for j in near])
        starts = np.cumsum([0] + [len(dst[j]) for j in near[:-1]])
        dist = np.linalg.norm(pts[:, None, :] - every[None, :, :], axis=2)
        nearest = np.minimum.reduceat(dist, starts, axis=1)  # (points, near dst lines)
        out[i, near] = point_scores(nearest, tol).mean(axis=0)
    return out


def pair_scores(
    hyp: Sequence[Polyline], gt: Sequence[Polyline], tol: float = TOLERANCE
) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise precision p[h, g] and recall r[h, g] of hypothesis against GT baselines."""
    hyp_pts = [resample(h) for h in hyp]
    gt_pts = [resample(g) for g in gt]
    return _directed(hyp_pts, gt_pts, tol), _directed(gt_pts, hyp_pts, tol).T


def _f(p: np.ndarray | float, r: np.ndarray | float) -> np.ndarray:
    p, r = np.asarray(p, dtype=np.float64), np.asarray(r, dtype=np.float64)
    total = p + r
    return np.divide(2 * p * r, total, out=np.zeros_like(total), where=total > 0)


def baseline_page(
    hyp: Sequence[Polyline], gt: Sequence[Polyline], tol: float = TOLERANCE
) -> dict[str, Any]:
    """One page's baseline precision, recall, F1, GT lines found, and the matched pairs
    (hypothesis index, GT index, pair F-measure), those with a score above 0."""
    n_h, n_g = len(hyp), len(gt)
    if not n_h or not n_g:
        p, r = (1.0, 1.0) if not n_h and not n_g else (float(not n_h), float(not n_g))
        return _page(p, r, n_h, n_g, [])
    prec, rec = pair_scores(hyp, gt, tol)
    f = _f(prec, rec)
    rows, cols = linear_sum_assignment(f, maximize=True)
    pairs = [(int(h), int(g), float(f[h, g])) for h, g in zip(rows, cols, strict=True)]
    p = float(prec[rows, cols].sum()) / n_h
    r = float(rec[rows, cols].sum()) / n_g
    return _page(p, r, n_h, n_g, [pair for pair in pairs if pair[2] > 0])


def _page(p: float, r: float, n_h: int, n_g: int, pairs: list) -> dict[str, Any]:
    found = sum(1 for _, _, f in pairs if f >= FOUND_F)
    f1 = float(_f(p, r))
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "hyp": n_h,
        "gt": n_g,
        "found": found,
        "pairs": pairs,
    }


def baseline_set(pages: list[dict[str, Any]]) -> dict[str, float]:
    """A set's precision and recall (means over pages), F1 of those, and the share found."""
    if not pages:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "found": 0.0}
    p = float(np.mean([pg["precision"] for pg in pages]))
    r = float(np.mean([pg["recall"] for pg in pages]))
    gt = sum(pg["gt"] for pg in pages)
    found = sum(pg["found"] for pg in pages) / gt if gt else 1.0
    return {"precision": p, "recall": r, "f1": float(_f(p, r)), "found": found}


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) of two strings; bit-parallel
    (Myers 1999, Hyyrö's global form), since whole pages run to thousands of characters."""
    if len(b) > len(a):
        a, b = b, a
    if not b:
        return len(a)
    peq: dict[str, int] = {}
    for i, c in enumerate(b):
        peq[c] = peq.get(c, 0) | 1 << i
    full, top = (1 << len(b)) - 1, 1 << (len(b) - 1)
    pv, mv, dist = full, 0, len(b)
    for c in a:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & full) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        dist += 1 if ph & top else -1 if mh & top else 0
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return dist


def cer_ordered(hyp: Sequence[str], gt: Sequence[str]) -> tuple[int, int]:
    """(edits, characters) of the page read in order: the lines joined by newlines, found
    against GT; the newlines count, so lines read out of order or split cost characters."""
    truth = "\n".join(gt)
    return levenshtein("\n".join(hyp), truth), len(truth)


def cer_order_free(
    hyp: Sequence[str], gt: Sequence[str], pairs: Sequence[tuple[int, int]] | None = None
) -> tuple[int, int]:
    """(edits, characters) with each GT line read against one found line, whatever the order:
    the given (found, GT) pairs, else the one-to-one pairing that minimises the edits
    (Hungarian on the characters a pair saves over leaving both unmatched). An unmatched GT
    line counts as deleted, an unmatched found line as inserted."""
    if pairs is None:
        pairs = _text_pairs(hyp, gt)
    used_h, used_g = {h for h, _ in pairs}, {g for _, g in pairs}
    edits = sum(levenshtein(hyp[h], gt[g]) for h, g in pairs)
    edits += sum(len(t) for i, t in enumerate(hyp) if i not in used_h)
    edits += sum(len(t) for i, t in enumerate(gt) if i not in used_g)
    return edits, sum(len(t) for t in gt)


def _text_pairs(hyp: Sequence[str], gt: Sequence[str]) -> list[tuple[int, int]]:
    if not hyp or not gt:
        return []
    saved = np.array([[len(h) + len(g) - levenshtein(h, g) for g in gt] for h in hyp])
    rows, cols = linear_sum_assignment(saved, maximize=True)
    return [(int(h), int(g)) for h, g in zip(rows, cols, strict=True) if saved[h, g] > 0]


def rate(edits: int, chars: int) -> float | None:
    """Edits per GT character; None when there are no GT characters."""
    return edits / chars if chars else None
