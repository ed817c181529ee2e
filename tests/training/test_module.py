"""The learning-rate schedule: warm-up, then a cosine decay ended by steps or by the clock."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from lightning.pytorch.callbacks import Timer

from training.module import LitRecognizer, lr_factor


def test_warm_up_then_cosine_to_the_floor_at_max_steps():
    assert lr_factor(0, 10, 110, 0.05) == pytest.approx(0.1)
    assert lr_factor(10, 10, 110, 0.05) == pytest.approx(1.0)
    assert lr_factor(60, 10, 110, 0.05) == pytest.approx(0.525)
    assert lr_factor(110, 10, 110, 0.05) == pytest.approx(0.05)
    assert lr_factor(500, 10, 110, 0.05) == pytest.approx(0.05)
    assert lr_factor(500, 10, -1, 0.05) == pytest.approx(1.0)  # no budget: no decay


def test_the_clock_ends_the_decay_when_it_runs_out_before_the_steps():
    # Step 20 of 1,010 is barely into the decay, but 3/4 of the time is spent.
    assert lr_factor(20, 10, 1010, 0.0, clock=0.75) == pytest.approx(0.5 * (1 - 0.5**0.5))
    assert lr_factor(20, 10, 1010, 0.05, clock=1.0) == pytest.approx(0.05)
    assert lr_factor(20, 10, -1, 0.05, clock=0.5) == pytest.approx(0.525)  # time alone
    # The steps still rule when they are ahead of the clock.
    assert lr_factor(1010, 10, 1010, 0.05, clock=0.1) == pytest.approx(0.05)


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")
def test_the_module_reads_the_trainers_clock(tiny, monkeypatch):
    module = LitRecognizer(tiny(trainer__max_steps=1000))
    assert module.clock_progress() == 0.0  # not attached to a trainer
    timer = Timer(duration=timedelta(minutes=10))
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": 450.0)
    broadcasts = []

    def broadcast(value, src=0):  # rank 0's value wins on every rank
        broadcasts.append(value)
        return 0.75

    module._trainer = SimpleNamespace(
        callbacks=[timer], strategy=SimpleNamespace(broadcast=broadcast)
    )
    assert module.clock_progress() == pytest.approx(0.75)
    module.on_train_batch_start({}, 0)
    assert broadcasts == [pytest.approx(0.75)]
    sched = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    for _ in range(300):
        sched.step()
    peak = module.config.optim.lr
    floor = module.config.optim.min_lr_ratio
    expected = peak * (floor + (1 - floor) * 0.5 * (1 - 0.5**0.5))
    assert sched.get_last_lr()[0] == pytest.approx(expected)
    module._trainer = SimpleNamespace(callbacks=[Timer(duration=None)])
    assert module.clock_progress() == 0.0  # a Timer with no duration is no clock
    module.on_train_batch_start({}, 0)  # and no clock, no broadcast (it has no strategy here)
