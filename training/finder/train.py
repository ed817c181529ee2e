"""Train the line finder: `python -m training.finder --preset quick [--section.key value ...]`.

The recognizer's run machinery (training/train.py) serves it: the same run folder, resume
rules, loggers (TensorBoard, W&B offline), command line and exit codes.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor

from htr.atomic import write_text
from training.callbacks import ValidateAtTheEnd
from training.finder.config import (
    PRESETS,
    FinderTrainConfig,
    finder_from_saved,
    finder_preset,
)
from training.finder.data import FinderDataModule
from training.finder.module import LitFinder
from training.train import (
    checkpoints,
    finish_loggers,
    make_trainer,
    parse_config,
    run_training,
    start_run,
)

log = logging.getLogger("training.finder")


def build_trainer(cfg: FinderTrainConfig, run: Path) -> L.Trainer:
    """A Lightning Trainer that keeps the finder with the lowest val/loss, and the last."""
    callbacks: list[Callback] = [
        *checkpoints(run / "checkpoints", "val/loss"),
        ValidateAtTheEnd(),
        LearningRateMonitor(logging_interval="step"),
    ]
    # each epoch draws synthetic pages of its own
    return make_trainer(cfg, run, callbacks, reload_dataloaders_every_n_epochs=1)


def train(cfg: FinderTrainConfig) -> dict[str, Any]:
    """Fit (or continue) a finder run and return its summary."""
    run, last, ckpt = start_run(cfg, finder_from_saved)
    dm = FinderDataModule(cfg.data, cfg.model.size)
    dm.setup("fit")
    module = LitFinder(cfg, dm.val_names())
    trainer = build_trainer(cfg, run)
    log.info("run %s: %s from %s", run, "continuing" if ckpt else "starting", ckpt or "scratch")
    t0 = time.perf_counter()
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
        trainer.save_checkpoint(last)  # max_time may stop mid-epoch: keep the very last state
    finally:
        finish_loggers(trainer)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    summary: dict[str, Any] = {
        k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1
    }
    summary.update(
        global_step=trainer.global_step,
        best_checkpoint=best,
        fit_seconds=round(time.perf_counter() - t0, 1),
    )
    if trainer.is_global_zero:
        write_text(run / "summary.json", json.dumps(summary, indent=2))
    return summary


def parse_finder_config(argv: list[str] | None) -> FinderTrainConfig:
    """Preset, then a YAML file, then `--section.key value` flags, as training.train's."""
    return parse_config(
        argv, FinderTrainConfig, finder_preset, "python -m training.finder", __doc__, PRESETS
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; caller mistakes exit 2 with the message, not a traceback."""
    return run_training(lambda: train(parse_finder_config(argv)))
