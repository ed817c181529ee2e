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
import torch
import yaml
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint

from htr.atomic import write_text
from training.callbacks import AveragedWeights, PreemptionCheckpoint, ValidateAtTheEnd
from training.cli import to_dict
from training.finder.config import (
    PRESETS,
    FinderTrainConfig,
    finder_from_saved,
    finder_preset,
)
from training.finder.data import FinderDataModule
from training.finder.module import LitFinder
from training.train import (
    build_loggers,
    check_accelerator,
    finish_loggers,
    parse_config,
    resume_path,
    run_dir,
    run_training,
)

log = logging.getLogger("training.finder")


def build_trainer(cfg: FinderTrainConfig, run: Path) -> L.Trainer:
    """A Lightning Trainer that keeps the finder with the lowest val/loss, and the last."""
    t = cfg.trainer
    ckpt_dir = run / "checkpoints"
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best-{step}",
            monitor="val/loss",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        PreemptionCheckpoint(ckpt_dir / "last.ckpt"),
        ValidateAtTheEnd(),
        LearningRateMonitor(logging_interval="step"),
    ]
    if cfg.optim.ema_decay:
        callbacks.append(AveragedWeights(decay=cfg.optim.ema_decay))
    devices: Any = int(t.devices) if t.devices.isdigit() else t.devices
    return L.Trainer(
        accelerator=t.accelerator,
        devices=devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        max_time=t.max_time,
        max_steps=t.max_steps,
        max_epochs=t.max_epochs,
        val_check_interval=t.val_check_interval,
        check_val_every_n_epoch=None if t.val_check_interval else 1,
        gradient_clip_val=cfg.optim.grad_clip,
        log_every_n_steps=t.log_every_n_steps,
        callbacks=callbacks,
        logger=build_loggers(cfg, run),
        default_root_dir=str(run),
        reload_dataloaders_every_n_epochs=1,  # each epoch draws synthetic pages of its own
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )


def train(cfg: FinderTrainConfig) -> dict[str, Any]:
    """Fit (or continue) a finder run and return its summary."""
    cfg.check()
    check_accelerator(cfg)
    run = run_dir(cfg)
    last = run / "checkpoints" / "last.ckpt"
    ckpt = resume_path(cfg, last, load=finder_from_saved)
    run.mkdir(parents=True, exist_ok=True)
    write_text(
        run / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    )
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True)
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
