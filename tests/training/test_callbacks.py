"""Callbacks: the throughput is training lines over training time; the EMA warms up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from training import callbacks
from training.callbacks import Throughput, warmed_up_ema


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


def test_the_average_follows_the_early_steps_then_decays_as_asked():
    update = warmed_up_ema(0.999)
    average, current = torch.zeros(3), torch.ones(3)
    early = update(average, current, torch.tensor(1))  # after one earlier update: 2/11 kept
    assert torch.allclose(early, torch.full((3,), 9 / 11))
    late = update(average, current, torch.tensor(100_000))  # the asked decay, not (1+n)/(10+n)
    assert torch.allclose(late, torch.full((3,), 0.001))


def test_after_a_hundred_steps_the_average_is_near_the_weights_not_their_start():
    weights = torch.nn.Linear(4, 4)
    start = weights.weight.detach().clone()
    averaged = AveragedModel(weights, avg_fn=warmed_up_ema(0.999), use_buffers=True)
    for step in range(100):  # the weights walk from `start` to `start + 1`
        with torch.no_grad():
            weights.weight.copy_(start + (step + 1) / 100)
        averaged.update_parameters(weights)
    moved = (averaged.module.weight - start).mean()
    # a fixed 0.999 would have moved ~0.005 of the way; the warm-up keeps the last ~10%
    assert 0.85 < float(moved) < 1.0
