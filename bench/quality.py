"""Recognition quality: our published model and Tesseract on exactly the same lines."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench import tesseract
from release.evaluate import eval_sets, predict_all, rates
from training.data.charset import normalize_text
from training.data.lines import LineSample

log = logging.getLogger(__name__)


@dataclass
class Example:
    """One line with its truth and both readings (for the picture)."""

    set: str
    image: np.ndarray  # (H, W) uint8
    truth: str
    ours: str
    tesseract: str


def subsample(samples: list[LineSample], limit: int) -> list[LineSample]:
    """Every k-th line so at most `limit` remain (0: all); the same lines on every run."""
    if not limit or len(samples) <= limit:
        return samples
    step = len(samples) / limit
    return [samples[int(i * step)] for i in range(limit)]


def compare(
    model: torch.jit.ScriptModule, samples: list[LineSample], jobs: int
) -> tuple[dict[str, Any], list[str], list[str]]:
    """CER/WER of both readers on `samples`, and their readings in input order."""
    truth = [normalize_text(s.text) for s in samples]
    t0 = time.perf_counter()
    ours = predict_all(model, samples)
    t1 = time.perf_counter()
    theirs = [normalize_text(t) for t in tesseract.read_lines([s.image for s in samples], jobs)]
    t2 = time.perf_counter()
    row = {
        "lines": len(samples),
        "ours": {**rates(ours, truth), "seconds": round(t1 - t0, 1)},
        "tesseract": {**rates(theirs, truth), "seconds": round(t2 - t1, 1)},
    }
    row["cer_ratio"] = round(row["tesseract"]["cer"] / max(row["ours"]["cer"], 1e-4), 1)
    return row, ours, theirs


def run(
    model: torch.jit.ScriptModule, synthetic: int, extra: list[str], limit: int, jobs: int
) -> tuple[dict[str, Any], list[Example], list[np.ndarray]]:
    """Every set (synthetic test, real val sets present, `extra`): rows, two examples each,
    and up to 32 lines of each set for the throughput measurement."""
    rows: dict[str, Any] = {}
    examples: list[Example] = []
    pool: list[np.ndarray] = []
    for name, samples in eval_sets(synthetic, 0, extra).items():
        samples = subsample(samples, limit)
        pool += [s.image for s in subsample(samples, 32)]
        rows[name], ours, theirs = compare(model, samples, jobs)
        log.info(
            "%s (%d lines): CER ours %.1f%%, Tesseract %.1f%%",
            name,
            len(samples),
            100 * rows[name]["ours"]["cer"],
            100 * rows[name]["tesseract"]["cer"],
        )
        for i in (len(samples) // 3, 2 * len(samples) // 3)[: len(samples)]:
            s = samples[i]
            examples.append(Example(name, s.image, normalize_text(s.text), ours[i], theirs[i]))
    return rows, examples, pool
