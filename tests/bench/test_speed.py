"""The speed figures that the end-to-end bench test does not reach."""

import numpy as np

from bench import speed
from bench.stats import quantiles


def test_training_throughput_of_a_preset_is_positive():
    assert speed.training_throughput("quick", steps=3) > 0


def test_quantiles_and_reference_line():
    q = quantiles([0.001 * i for i in range(1, 101)])
    assert q == {"p50_ms": 50.5, "p95_ms": 96.0}
    line = speed.example_line(np.zeros((64, 300), np.uint8))
    assert line.shape == (64, 1024) and line.dtype == np.uint8


def test_reference_line_is_the_one_nearest_the_budgets_proportions():
    short, long, right = (np.zeros((64, w), np.uint8) for w in (200, 2400, 1000))
    assert speed.reference_image([short, long, right]) is right
    assert speed.reference_image([short]) is short


def test_the_timed_line_has_the_budgets_shape(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no real sets here: a synthetic line stands in
    line = speed.reference_line()
    assert line.shape == (64, 1024) and line.dtype == np.uint8 and line.min() < line.max()
