"""Callbacks: checkpoint on preemption, weight averaging, sample predictions, throughput."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM or Ctrl-C, save `last.ckpt` so that rerunning the command continues."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt | SIGTERMException):
            return
        log.warning(
            "interrupted (%s) at step %d: saving %s",
            type(exception).__name__,
            trainer.global_step,
            self.path,
        )
        trainer.save_checkpoint(self.path)


def warmed_up_ema(
    decay: float,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The EMA update with decay min(decay, (1 + n) / (10 + n)) after n earlier updates."""

    def update(average: torch.Tensor, current: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        # A fixed 0.999 from step 0 keeps the initial weights in the average for ~2,000 steps,
        # so a short run's first validations would score an untrained network; the warm-up
        # spans only the steps so far until it reaches `decay` (after ~9,000 steps at 0.999).
        # why: experiments/training-runs.md, "One 3x3 convolution". Tensor arithmetic on n:
        # no host sync per parameter on a GPU.
        d = ((1.0 + n) / (10.0 + n)).clamp(max=decay)
        return average * d + current * (1.0 - d)

    return update


class AveragedWeights(WeightAveraging):
    """An exponential moving average of the weights: validated, checkpointed and exported.

    Lightning's callback copies the average over the raw weights when fit ends; the checkpoint
    saved after fit then holds only the average, and a run continued from it (a longer
    max_time) would train on from the average. Keeping the raw weights in the module keeps
    both in every checkpoint: the average in `state_dict`, the raw in `current_model_state`.
    """

    def __init__(self, decay: float) -> None:
        super().__init__(avg_fn=warmed_up_ema(decay))  # updated after every optimizer step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Only a resumed fit goes on from the raw weights. Testing the best checkpoint after
        # fit must score its `state_dict` (the average, what export writes), but Lightning's
        # callback would load `current_model_state` over it whenever it holds an average.
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)


class ValidateAtTheEnd(L.Callback):
    """Stop on the last step as max_time does, so Lightning validates the final weights.

    Reaching max_steps mid-epoch ends fit without a validation: the best checkpoint and the
    logged CER would miss the last, fully decayed steps.
    """

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class Throughput(L.Callback):
    """Training lines per second, in the progress bar and the loggers."""

    def __init__(self) -> None:
        self._t0: float | None = None  # start of the current stretch of training batches
        self._seconds = 0.0  # training time of the finished stretches
        self._lines = 0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._lines += len(batch["texts"]) * trainer.world_size
        now = time.perf_counter()
        elapsed = self._seconds + now - (now if self._t0 is None else self._t0)
        if elapsed > 0:
            pl_module.log(
                "lines_per_s", self._lines / elapsed, prog_bar=True, on_step=True, batch_size=1
            )

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Validation time is not training time: pause the clock, keep the count (the rate
        # is over the whole fit, not over the few batches since the last validation).
        if self._t0 is not None:
            self._seconds += time.perf_counter() - self._t0
        self._t0 = None


class SamplePredictions(L.Callback):
    """At each validation: image, truth and prediction of a few lines, to TB and W&B."""

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        samples = getattr(pl_module, "last_samples", {})
        step = trainer.global_step
        for logger in trainer.loggers:
            for name, rows in samples.items():
                if isinstance(logger, TensorBoardLogger):
                    _to_tensorboard(logger, name, rows, step)
                elif isinstance(logger, WandbLogger):
                    _to_wandb(logger, name, rows, step)


def _ink_to_image(img: torch.Tensor) -> torch.Tensor:
    """(1, H, W) ink-positive input -> (1, H, W) dark ink on white, for viewing."""
    return 1.0 - img.float().clamp(0, 1)


def _to_tensorboard(logger: TensorBoardLogger, name: str, rows: list, step: int) -> None:
    width = max(img.shape[-1] for img, _, _ in rows)
    grid = torch.ones(len(rows), 1, rows[0][0].shape[-2], width)
    for i, (img, _, _) in enumerate(rows):
        grid[i, :, :, : img.shape[-1]] = _ink_to_image(img)
    logger.experiment.add_images(f"samples/{name}", grid, step)
    table = "| truth | prediction |\n|---|---|\n" + "\n".join(
        f"| {_md(t)} | {_md(p)} |" for _, t, p in rows
    )
    logger.experiment.add_text(f"samples/{name}", table, step)


def _md(text: str) -> str:
    return text.replace("|", "\\|") or " "


def _to_wandb(logger: WandbLogger, name: str, rows: list, step: int) -> None:
    import wandb

    data = [[wandb.Image(_ink_to_image(img)[0].numpy()), truth, pred] for img, truth, pred in rows]
    logger.log_table(
        key=f"samples/{name}", columns=["image", "truth", "prediction"], data=data, step=step
    )
