"""Calibration of the raw confidence: fitted at export, stored in model.pt, reported by bench.

The line map gives the probability that a line is read with a CER of at most 10%; the word map,
that a word is exactly right. Both are isotonic regressions (pool-adjacent-violators) of the
raw score, fitted on the tuning half of the validation documents (`tuning_half`), so that
`make bench` can report them on the other half. Why and how well: experiments/calibration.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from htr.errors import DataError
from training.config import TrainConfig
from training.data.charset import normalize_text
from training.data.datamodule import SEED_STRIDE
from training.data.lines import LineSample
from training.data.sources import doc_split, load_source
from training.data.synthetic import SyntheticLines

log = logging.getLogger(__name__)
Reading = tuple[str, float, list[tuple[str, float]]]  # text, confidence, words and theirs
LINE_CER = 0.10  # the line event: read with a CER of at most this
EVENT = "CER ≤ 10%"
CLIP = (0.01, 0.99)  # no reading is ever certain either way
BINS = 10  # equal-width bins of the expected calibration error


def tuning_half(doc: str) -> bool:
    """Half of the documents, by a stable hash: decoding and calibration are tuned on these."""
    return int(hashlib.sha1(doc.encode()).hexdigest()[:8], 16) % 2 == 0


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (strictly increasing x, non-decreasing y) of the least-squares non-decreasing fit
    of y on x, by pool-adjacent-violators; interpolate between them (np.interp)."""
    ux, inv = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    sums = np.bincount(inv, weights=np.asarray(y, dtype=np.float64))
    counts = np.bincount(inv).astype(np.float64)
    blocks: list[list[float]] = []  # [mean, weight, lowest x, highest x]
    for i in range(len(ux)):
        blocks.append([sums[i] / counts[i], counts[i], ux[i], ux[i]])
        while len(blocks) > 1 and blocks[-2][0] >= blocks[-1][0]:
            (v2, w2, _, hi), (v1, w1, lo, _) = blocks.pop(), blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, lo, hi])
    xs = [x for _, _, lo, hi in blocks for x in ((lo, hi) if hi > lo else (lo,))]
    ys = [v for v, _, lo, hi in blocks for _ in ((lo, hi) if hi > lo else (lo,))]
    return np.array(xs), np.clip(np.array(ys), *CLIP)


def reliability(conf: np.ndarray, event: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Per equal-width confidence bin: its range, line count, mean confidence and frequency."""
    conf, event = np.asarray(conf, dtype=np.float64), np.asarray(event, dtype=np.float64)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "n": n,
                "confidence": float(conf[inside].mean()) if n else 0.0,
                "frequency": float(event[inside].mean()) if n else 0.0,
            }
        )
    return rows


def ece(conf: np.ndarray, event: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean |confidence - frequency| over
    `bins` equal-width bins."""
    rows = reliability(conf, event, bins)
    total = sum(r["n"] for r in rows)
    return sum(r["n"] * abs(r["confidence"] - r["frequency"]) for r in rows) / max(total, 1)


def _distances(a: Sequence, b: Sequence) -> np.ndarray:
    """Levenshtein table between every prefix of a and of b."""
    d = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    d[:, 0], d[0, :] = np.arange(len(a) + 1), np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(
                d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1])
            )
    return d


def line_cer(pred: str, truth: str) -> float:
    """Character error rate of one line (1.0 for any text read from an empty truth)."""
    if not truth:
        return 0.0 if not pred else 1.0
    return float(_distances(pred, truth)[-1, -1]) / len(truth)


def word_hits(pred: list[str], truth: list[str]) -> list[bool]:
    """For each predicted word, whether a minimum-edit alignment of the two word sequences
    matches it to an identical true word."""
    d = _distances(pred, truth)
    hits = [False] * len(pred)
    i, j = len(pred), len(truth)
    while i > 0 and j > 0:
        if pred[i - 1] == truth[j - 1] and d[i, j] == d[i - 1, j - 1]:
            hits[i - 1] = True
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j - 1] + 1:
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return hits


def validation_lines(cfg: TrainConfig) -> tuple[str, list[LineSample]]:
    """The val split of the run's real sources when any can be read, else its synthetic val
    lines (drawn at 64 px, like real lines); and which they are."""
    d, names, lines = cfg.data, [], []
    for src in d.sources:
        if src.format == "synthetic" or src.split in ("train", "test"):
            continue
        try:
            read = load_source(src, Path(d.cache_dir))
        except DataError as e:
            log.warning("calibration: source %s not read (%s)", src.name, e)
            continue
        if src.split == "auto":
            read = [s for s in read if doc_split(s.doc, d.val_fraction, d.test_fraction) == "val"]
        names.append(src.name)
        lines += read
    if lines:
        return f"real validation lines ({', '.join(names)})", lines
    if d.synthetic_val and any(s.format == "synthetic" for s in d.sources):
        gen = SyntheticLines(seed=d.seed + SEED_STRIDE, length=d.synthetic_val, charset=d.charset)
        return "synthetic validation lines", [gen[i] for i in range(len(gen))]
    return "no lines", []


def read_all(
    model: torch.nn.Module | torch.jit.ScriptModule,
    samples: list[LineSample],
    method: str = "read_lines",
    batch: int = 16,
) -> list[Reading]:
    """Text, confidence and words of each sample in input order, batched by width: through
    `method` (read_lines, or score_lines for raw scores), or for a file without it through
    predict_batch_with_confidence (each word then gets its line's confidence)."""
    order = sorted(range(len(samples)), key=lambda i: samples[i].image.shape[1])
    out: dict[int, Reading] = {}
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            idx = order[k : k + batch]
            images = [torch.from_numpy(samples[i].image.copy()) for i in idx]
            if hasattr(model, method):
                rows = [(r[0], r[1], list(r[-1])) for r in getattr(model, method)(images)]
            else:
                pairs = model.predict_batch_with_confidence(images)
                rows = [(t, c, [(w, c) for w in t.split()]) for t, c in pairs]
            out.update(zip(idx, rows, strict=True))
    return [out[i] for i in range(len(samples))]


def events(readings: list[Reading], samples: list[LineSample]) -> tuple[np.ndarray, ...]:
    """Line scores and whether each line is read with CER <= 10%; word scores and whether
    each word is exactly right."""
    line_s, line_e, word_s, word_e = [], [], [], []
    for (text, score, words), s in zip(readings, samples, strict=True):
        truth = normalize_text(s.text)
        line_s.append(score)
        line_e.append(line_cer(text, truth) <= LINE_CER)
        word_s += [c for _, c in words]
        word_e += word_hits([w for w, _ in words], truth.split())
    return tuple(np.array(a, dtype=np.float64) for a in (line_s, line_e, word_s, word_e))


def fit(
    model: torch.nn.Module | torch.jit.ScriptModule, samples: list[LineSample]
) -> dict[str, np.ndarray]:
    """Knots of the line and word maps (calib_line_x, ...) from the raw scores of `samples`;
    the word map stays empty when no word was read."""
    line_s, line_e, word_s, word_e = events(read_all(model, samples, "score_lines"), samples)
    knots = dict(zip(("calib_line_x", "calib_line_y"), isotonic(line_s, line_e), strict=True))
    empty = np.zeros(0)
    word = isotonic(word_s, word_e) if len(word_s) else (empty, empty)
    knots.update(zip(("calib_word_x", "calib_word_y"), word, strict=True))
    return knots


def calibrate(
    cfg: TrainConfig, *modules: torch.nn.Module | torch.jit.ScriptModule
) -> dict[str, Any]:
    """Fit both maps with the last of `modules` on the tuning half of the run's validation
    documents, store them in every module, and say what they were fitted on."""
    what, lines = validation_lines(cfg)
    tuning = [s for s in lines if tuning_half(s.doc)]
    if not tuning:
        log.warning("calibration: %s on the tuning half; the file stays uncalibrated", what)
        return {"calibrated": False}
    if len(tuning) < 100:
        log.warning("calibration: only %d lines; the maps are crude", len(tuning))
    knots = fit(modules[-1], tuning)
    for m in modules:
        for name, value in knots.items():
            setattr(m, name, torch.from_numpy(np.asarray(value, dtype=np.float64)))
    log.info("calibration: fitted on %d lines of %s", len(tuning), what)
    return {
        "calibrated": True,
        "event": f"line read with {EVENT}; word exactly right",
        "fitted_on": f"{what}, tuning half of the documents",
        "lines": len(tuning),
        "knots": {"line": len(knots["calib_line_x"]), "word": len(knots["calib_word_x"])},
        "documents": sorted({s.doc for s in tuning}),
    }
