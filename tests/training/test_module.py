"""The learning-rate schedule: warm-up, then a cosine decay ended by steps or by the clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.callbacks import Timer

from training.data.synthetic import SyntheticConfig, SyntheticLines
from training.data.webdataset import write_shard
from training.module import LitRecognizer, lr_factor
from training.train import train
from training.val_sets import UNSEEN_WRITER_SETS


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


def _validated(tiny, names: list[str], cers: dict[str, float]) -> dict[str, float]:
    """What the module logs at the end of a validation whose sets read with these CERs."""
    module = LitRecognizer(tiny(), {"val": names, "test": ["test"]})
    for name, cer in cers.items():
        wrong = round(cer * 10)  # one line of ten characters, `wrong` of them misread
        module.metrics[f"val__{name}__cer"].update(
            ["x" * wrong + "abcdefghij"[wrong:]], ["abcdefghij"]
        )
    logged: dict[str, float] = {}
    module.log = lambda key, value, **kw: logged.__setitem__(key, float(value))
    module.on_validation_epoch_end()
    return logged


def test_the_module_logs_the_unseen_writer_cer_of_exactly_the_four_sets(tiny):
    cers = {
        "copiste-val": 0.1,
        "poilus-val": 0.2,
        "cremma19-val": 0.3,
        "lectaurep-val": 0.4,
        "hooker-val": 0.9,  # the seen writer: not in the mean
        "extra-val": 0.8,
    }
    logged = _validated(tiny, ["synthetic", *cers], cers)
    assert logged["val/cer/unseen_writers"] == pytest.approx(0.25)
    missing = {k: v for k, v in cers.items() if k != "poilus-val"}
    assert "val/cer/unseen_writers" not in _validated(tiny, list(missing), missing)
    # a set named but never read this validation: no figure either, never a subset's mean
    assert "val/cer/unseen_writers" not in _validated(tiny, list(cers), missing)


def _shard(path: Path, n: int, seed: int) -> str:
    gen = SyntheticLines(SyntheticConfig(height=32), seed=seed)
    write_shard([gen[i] for i in range(n)], path)
    return str(path)


def test_training_logs_the_unseen_writer_cer_beside_each_set(tiny, tmp_path):
    names = [*UNSEEN_WRITER_SETS, "hooker-val"]
    sources = ", ".join(
        f"{{uri: '{_shard(tmp_path / f'{n}.tar', 3, k)}', split: val, name: {n}}}"
        for k, n in enumerate(names)
    )
    summary = train(tiny(data__sources=f"[{{uri: synthetic}}, {sources}]"))
    mean = sum(summary[f"val/cer/{n}"] for n in UNSEEN_WRITER_SETS) / 4
    assert summary["val/cer/unseen_writers"] == pytest.approx(mean, abs=1e-6)
    assert "val/cer/hooker-val" in summary
