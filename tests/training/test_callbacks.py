"""Callbacks: the throughput shown and logged is training lines over training time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from training import callbacks
from training.callbacks import Throughput


def test_lines_per_second_spans_the_fit_and_leaves_out_validation(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    logged: list[float] = []
    module = SimpleNamespace(log=lambda name, value, **kw: logged.append(value))
    trainer = SimpleNamespace(world_size=1)
    cb = Throughput()

    def batch(lines: int, seconds: float) -> None:
        cb.on_train_batch_start(trainer, module, {}, 0)
        clock[0] += seconds
        cb.on_train_batch_end(trainer, module, None, {"texts": ["x"] * lines}, 0)

    batch(32, 1.0)
    assert logged[-1] == pytest.approx(32.0)
    cb.on_validation_start(trainer, module)
    clock[0] += 10.0  # validating: not training time
    batch(16, 1.0)
    assert logged[-1] == pytest.approx(24.0)  # 48 lines in 2 s of training
