"""Tiny CPU configs for training tests (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.cli import apply_overrides
from training.config import TrainConfig, preset

TINY = {
    "model.height": 32,
    "data.height": 32,
    "model.channels": "8,16,16,16",
    "model.hidden": 32,
    "model.layers": 1,
    "data.batch_size": 4,
    "data.lines_per_epoch": 16,
    "data.synthetic_val": 8,
    "data.num_workers": 0,
    "trainer.max_steps": 6,
    "trainer.max_time": None,
    "trainer.log_every_n_steps": 2,
    "log.wandb": "disabled",
    "log.samples": 2,
    "optim.warmup_steps": 2,
    "trainer.threads": 2,
}


@pytest.fixture
def tiny(tmp_path: Path):
    """Factory of tiny configs rooted in the test's tmp folder."""

    def make(**overrides: object) -> TrainConfig:
        base = {**TINY, "log.root": str(tmp_path / "runs"), "log.name": "tiny"}
        base.update({k.replace("__", "."): v for k, v in overrides.items()})
        return apply_overrides(preset("quick"), base)

    return make
