"""Recognition quality: our published model and Tesseract on exactly the same lines, and how
well our confidence is calibrated on the real ones."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench import tesseract
from release import calibration
from release.evaluate import eval_sets, rates
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
) -> tuple[dict[str, Any], list[calibration.Reading], list[str]]:
    """CER/WER of both readers on `samples`, and their readings in input order (ours with
    confidences and words, as served)."""
    truth = [normalize_text(s.text) for s in samples]
    t0 = time.perf_counter()
    readings = calibration.read_all(model, samples)
    ours = [text for text, _, _ in readings]
    t1 = time.perf_counter()
    theirs = [normalize_text(t) for t in tesseract.read_lines([s.image for s in samples], jobs)]
    t2 = time.perf_counter()
    row = {
        "lines": len(samples),
        "ours": {**rates(ours, truth), "seconds": round(t1 - t0, 1)},
        "tesseract": {**rates(theirs, truth), "seconds": round(t2 - t1, 1)},
    }
    row["cer_ratio"] = round(row["tesseract"]["cer"] / max(row["ours"]["cer"], 1e-4), 1)
    return row, readings, theirs


def calibrated(model: torch.jit.ScriptModule) -> tuple[bool, set[str]]:
    """Whether the file carries a calibration, and the documents it was fitted on."""
    meta = json.loads(getattr(model, "meta_json", "") or "{}").get("calibration", {})
    on = hasattr(model, "read_lines") and model.calib_line_x.numel() > 0
    return on, set(meta.get("documents", []))


def calibration_row(
    readings: list[calibration.Reading], samples: list[LineSample], fitted: set[str]
) -> dict[str, Any]:
    """ECE and reliability of line and word confidences on the lines of documents that the
    calibration did not read."""
    keep = [i for i, s in enumerate(samples) if s.doc not in fitted]
    line_s, line_e, word_s, word_e = calibration.events(
        [readings[i] for i in keep], [samples[i] for i in keep]
    )
    return {
        "lines": len(keep),
        "ece": round(calibration.ece(line_s, line_e), 4) if len(keep) else None,
        "confidence": round(float(line_s.mean()), 4) if len(keep) else None,
        "frequency": round(float(line_e.mean()), 4) if len(keep) else None,
        "words": len(word_s),
        "word_ece": round(calibration.ece(word_s, word_e), 4) if len(word_s) else None,
        "reliability": calibration.reliability(line_s, line_e),
    }


def run(
    model: torch.jit.ScriptModule, synthetic: int, extra: list[str], limit: int, jobs: int
) -> tuple[dict[str, Any], list[Example], list[np.ndarray], dict[str, Any]]:
    """Every set (synthetic test, real val sets present, `extra`): rows, two examples each,
    up to 32 lines of each set for the throughput measurement, and the calibration of the
    confidence on each real set (the line event: CER <= 10%)."""
    on, fitted = calibrated(model)
    calib: dict[str, Any] = {"calibrated": on, "event": calibration.EVENT, "sets": {}}
    calib["bins"] = f"{calibration.BINS} equal-width"
    rows: dict[str, Any] = {}
    examples: list[Example] = []
    pool: list[np.ndarray] = []
    for name, samples in eval_sets(synthetic, 0, extra).items():
        samples = subsample(samples, limit)
        pool += [s.image for s in subsample(samples, 32)]
        rows[name], readings, theirs = compare(model, samples, jobs)
        ours = [text for text, _, _ in readings]
        if name != "synthetic-test":
            calib["sets"][name] = calibration_row(readings, samples, fitted)
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
    return rows, examples, pool, calib
