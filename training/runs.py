"""Run folders: where a run's config, checkpoints, TensorBoard and W&B files live, and the
loggers that write there."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger

WANDB_DIRS = {
    "WANDB_DIR": "",
    "WANDB_CACHE_DIR": "wandb-cache",
    "WANDB_DATA_DIR": "wandb-data",
    "WANDB_CONFIG_DIR": "wandb-config",
}


def wandb_env(run: Path, mode: str) -> None:
    """Point W&B's run, cache, artifact staging and config at the run folder, not $HOME."""
    for var, sub in WANDB_DIRS.items():
        (run / sub).mkdir(parents=True, exist_ok=True)
        os.environ[var] = str((run / sub).resolve())
    os.environ["WANDB_MODE"] = mode


def wandb_id(run: Path) -> str:
    """One W&B run id per run folder, derived from its path: every DDP rank and every resumed
    process agrees on it without writing anything."""
    return hashlib.sha1(str(run.resolve()).encode("utf-8")).hexdigest()[:12]


def _wandb_logger(cfg: Any, run: Path) -> WandbLogger:
    wandb_env(run, cfg.log.wandb)
    return WandbLogger(
        project=cfg.log.wandb_project,
        name=cfg.log.name,
        save_dir=str(run),
        id=wandb_id(run),
        resume="allow",  # a resumed run appends to the same W&B run
        log_model=True,  # best and last checkpoints become model artifacts (best, latest)
        # offline=False: Lightning refuses log_model when offline, but W&B itself stages
        # artifacts offline under WANDB_MODE=offline.
        offline=False,
    )


def build_loggers(cfg: Any, run: Path) -> list[Logger]:
    """TensorBoard always; W&B unless disabled."""
    loggers: list[Logger] = [
        TensorBoardLogger(str(run), name="tensorboard", version="", default_hp_metric=False)
    ]
    if cfg.log.wandb != "disabled":
        loggers.append(_wandb_logger(cfg, run))
    return loggers
