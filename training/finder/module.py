"""The finder's LightningModule: per-pixel BCE on the baseline and region maps, and per-set
validation loss and baseline F1 on whole pages."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Timer

from recognizer.finder import MAPS, FinderNet
from recognizer.network import count_parameters
from training.cli import to_dict
from training.finder.config import FinderTrainConfig
from training.module import adamw_cosine

KIND = "finder"  # checkpoint["htr"]["kind"]: what export makes of the file


class LitFinder(L.LightningModule):
    """Trains a FinderNet; logs train/loss, and val/loss and val/baseline_f1 per val set."""

    def __init__(self, config: FinderTrainConfig, val_names: list[str] | None = None) -> None:
        super().__init__()
        self.config = config
        self.model = FinderNet(config.model)
        self.val_names = val_names or ["val"]
        # the baseline channel's ink pixels weigh more: the band is a few percent of a page
        weights = [config.baseline_weight if m == "baseline" else 1.0 for m in MAPS]
        self.register_buffer("pos_weight", torch.tensor(weights).view(-1, 1, 1), persistent=False)
        self.save_hyperparameters(
            {
                "config": to_dict(config),
                "val_names": self.val_names,
                "parameters": count_parameters(self.model),
            }
        )
        self._clock = 0.0  # share of max_time spent at this step's start (rank 0's)
        self._sums: dict[str, torch.Tensor] = {}  # per val set: loss sum, pages, tp, fp, fn

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def on_fit_start(self) -> None:
        if self.config.trainer.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean BCE-with-logits over both maps, the baseline band's pixels weighted up."""
        return F.binary_cross_entropy_with_logits(
            logits.float(), targets, pos_weight=self.pos_weight
        )

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        if self.config.trainer.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.model(images)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.loss(self._logits(batch["images"]), batch["targets"])
        self.log("train/loss", loss, batch_size=len(batch["images"]), prog_bar=True)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._sums = {name: torch.zeros(5, device=self.device) for name in self.val_names}

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        logits = self._logits(batch["images"])
        targets = batch["targets"]
        predicted = logits[:, 0] > 0  # sigmoid > 0.5
        truth = targets[:, 0] > 0.5
        counts = torch.stack(
            [
                self.loss(logits, targets).detach(),
                torch.tensor(1.0, device=self.device),
                (predicted & truth).sum().float(),
                (predicted & ~truth).sum().float(),
                (~predicted & truth).sum().float(),
            ]
        )
        self._sums[self.val_names[dataloader_idx]] += counts

    def on_validation_epoch_end(self) -> None:
        # Summed here, not logged per step: Lightning refuses one key from several dataloaders.
        total = torch.zeros(5, device=self.device)
        for name, sums in self._sums.items():
            if sums[1] > 0:
                self.log(f"val/loss/{name}", sums[0] / sums[1])
                self.log(f"val/baseline_f1/{name}", _f1(sums))
                total += sums
        if total[1] > 0:
            self.log("val/loss", total[0] / total[1], prog_bar=True)
            self.log("val/baseline_f1", _f1(total), prog_bar=True)

    def configure_optimizers(self) -> Any:
        return adamw_cosine(self)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # The decay ends when the clock does, as the recognizer's: whichever of max_steps and
        # max_time runs out first; every DDP rank steps with rank 0's clock.
        timers = [cb for cb in self.trainer.callbacks if isinstance(cb, Timer)]
        if timers and timers[0].time_remaining() is not None:
            elapsed, left = timers[0].time_elapsed(), timers[0].time_remaining() or 0.0
            share = elapsed / max(elapsed + left, 1e-9)
            self._clock = float(self.trainer.strategy.broadcast(share, src=0))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["htr"] = {"config": to_dict(self.config), "kind": KIND}


def _f1(sums: torch.Tensor) -> torch.Tensor:
    """Pixel F1 from (loss, pages, tp, fp, fn) sums; 1 when there is nothing to find or find."""
    tp, fp, fn = sums[2], sums[3], sums[4]
    if tp + fp + fn == 0:
        return torch.ones((), device=sums.device)
    return 2 * tp / (2 * tp + fp + fn)
