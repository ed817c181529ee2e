"""Calibration: the isotonic fit, the ECE, the events it is fitted on, the lines it reads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import isotonic_regression

from release import calibration as cal
from training.data.sources import SourceConfig


def test_isotonic_fit_is_the_least_squares_monotone_fit():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 300)
    y = (rng.uniform(0, 1, 300) < x**2).astype(float)
    xs, ys = cal.isotonic(x, y)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) >= 0)
    order = np.argsort(x)
    expected = isotonic_regression(y[order]).x  # scipy's pool-adjacent-violators
    np.testing.assert_allclose(np.interp(x[order], xs, ys), np.clip(expected, *cal.CLIP))


def test_isotonic_pools_violators_and_clips():
    xs, ys = cal.isotonic(np.array([0.1, 0.2, 0.3, 0.3]), np.array([1.0, 0.0, 1.0, 1.0]))
    assert xs.tolist() == [0.1, 0.2, 0.3]
    assert ys.tolist() == pytest.approx([0.5, 0.5, 0.99])


def test_ece_of_perfectly_calibrated_scores_is_zero():
    conf, event = [], []
    for p in np.arange(0.05, 1.0, 0.1):  # each bin's centre, with that share of events
        conf += [p] * 20
        event += [1] * round(20 * p) + [0] * (20 - round(20 * p))
    assert cal.ece(np.array(conf), np.array(event)) == pytest.approx(0.0, abs=1e-9)


def test_ece_of_a_constant_overconfident_score():
    event = np.array([1, 0] * 50)
    assert cal.ece(np.full(100, 0.8), event) == pytest.approx(0.3)
    rows = cal.reliability(np.full(100, 0.8), event)
    assert [r["n"] for r in rows] == [0] * 8 + [100, 0]
    assert cal.ece(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0  # 1.0 falls in the top bin


def test_line_and_word_events():
    assert cal.line_cer("a cat", "a cat") == 0.0
    assert cal.line_cer("a cut", "a cat") == pytest.approx(0.2)
    assert cal.line_cer("", "") == 0.0 and cal.line_cer("x", "") == 1.0
    assert cal.word_hits(["the", "cat", "sat"], ["the", "cat", "sat"]) == [True] * 3
    assert cal.word_hits(["the", "cot", "sat"], ["the", "cat", "sat"]) == [True, False, True]
    assert cal.word_hits(["thecat", "sat"], ["the", "cat", "sat"]) == [False, True]
    assert cal.word_hits(["a", "the", "cat"], ["the", "cat"]) == [False, True, True]
    assert cal.word_hits([], ["x"]) == []


def test_tuning_half_splits_documents_about_evenly_and_stably():
    docs = [f"doc{i}" for i in range(200)]
    assert [cal.tuning_half(d) for d in docs] == [cal.tuning_half(d) for d in docs]
    assert 60 < sum(cal.tuning_half(d) for d in docs) < 140


def test_validation_lines_prefer_real_val_sources(tiny, tmp_path, doc_shard):
    doc_shard(tmp_path / "set-val-000.tar", 6)
    doc_shard(tmp_path / "set-train-000.tar", 4)
    cfg = tiny()
    cfg.data.sources = [
        SourceConfig(),
        SourceConfig(str(tmp_path / "set-train-*.tar"), split="train"),
        SourceConfig(str(tmp_path / "set-val-*.tar"), split="val", name="set"),
        SourceConfig(str(tmp_path / "absent-*.tar"), split="val"),  # skipped with a warning
    ]
    what, lines = cal.validation_lines(cfg)
    assert what == "real validation lines (set)" and len(lines) == 12
    cfg.data.sources = [SourceConfig(), SourceConfig(str(tmp_path / "absent.tar"), split="val")]
    what, lines = cal.validation_lines(cfg)
    assert what == "synthetic validation lines" and len(lines) == cfg.data.synthetic_val
    assert lines[0].image.shape[0] == 64  # drawn like real lines, not at the model's height


def test_without_validation_lines_the_file_stays_uncalibrated(tiny):
    cfg = tiny(data__synthetic_val=0)
    untouched = object()  # nothing is read or stored
    assert cal.calibrate(cfg, untouched) == {"calibrated": False}
