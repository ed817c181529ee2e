"""Run folders: where a run's config, checkpoints, TensorBoard and W&B files live."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
