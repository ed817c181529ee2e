"""The LightningModule: one shared step for train/val/test around the plain Recognizer."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from torch import nn
from torchmetrics.text import CharErrorRate, WordErrorRate

from recognizer.ctc import greedy_decode
from recognizer.network import Recognizer, count_parameters, output_lengths
from training.cli import to_dict
from training.config import TrainConfig
from training.data.charset import Charset
from training.val_sets import UNSEEN_WRITER_SETS, unseen_writer_cer


class LitRecognizer(L.LightningModule):
    """Trains a Recognizer with CTC; logs loss, CER and WER per stage and per dataset."""

    def __init__(self, config: TrainConfig, eval_names: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.config = config
        self.charset = Charset(config.data.charset)
        self.model = Recognizer(config.model, len(self.charset))
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self.eval_names = eval_names or {"val": ["val"], "test": ["test"]}
        self.metrics = nn.ModuleDict()
        for stage, names in [("train", ["all"]), *self.eval_names.items()]:
            for name in [*names, "all"]:
                self.metrics[f"{stage}__{name}__cer"] = CharErrorRate()
                self.metrics[f"{stage}__{name}__wer"] = WordErrorRate()
        # The full config travels in every checkpoint (hyper_parameters) and in the loggers.
        self.save_hyperparameters(
            {
                "config": to_dict(config),
                "eval_names": self.eval_names,
                "parameters": count_parameters(self.model),
            }
        )
        self.last_samples: dict[str, list[tuple[torch.Tensor, str, str]]] = {}
        self._clock = 0.0  # share of max_time spent at this step's start (rank 0's)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Texts of a batch of CTC outputs."""
        ids, _ = greedy_decode(log_probs.detach(), lengths)
        return [self.charset.decode(x) for x in ids]

    def on_fit_start(self) -> None:
        if self.config.trainer.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def _step(self, batch: dict, stage: str, name: str) -> torch.Tensor:
        images = batch["images"]  # (B, 1, H, W)
        if self.config.trainer.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        log_probs = self.model(images)  # (T, B, C)
        lengths = output_lengths(batch["widths"], self.config.model.stride).clamp(
            max=log_probs.shape[0]
        )
        loss = self.ctc(log_probs, batch["targets"], lengths, batch["target_lengths"])
        bs = len(batch["texts"])
        if stage == "train":
            self.log("train/loss", loss, batch_size=bs, prog_bar=True)
            if self.global_step % self.config.trainer.log_every_n_steps == 0:
                # Decoding every training batch would cost more than it tells.
                self._log_train_metrics(self.decode(log_probs, lengths), batch["texts"], bs)
            return loss
        # One key per evaluation set: Lightning refuses one key from several dataloaders.
        self.log(
            f"{stage}/loss/{name}", loss, batch_size=bs, add_dataloader_idx=False, sync_dist=True
        )
        preds = self.decode(log_probs, lengths)
        for metric in ("cer", "wer"):
            self.metrics[f"{stage}__all__{metric}"].update(preds, batch["texts"])
            per_set = self.metrics[f"{stage}__{name}__{metric}"]
            per_set.update(preds, batch["texts"])
            self.log(
                f"{stage}/{metric}/{name}",
                per_set,
                on_epoch=True,
                batch_size=bs,
                add_dataloader_idx=False,
            )
        if name not in self.last_samples:
            rows = zip(
                batch["images"][: self.config.log.samples].cpu(),
                batch["texts"],
                preds,
                strict=False,
            )
            self.last_samples[name] = list(rows)
        return loss

    def _log_train_metrics(self, preds: list[str], texts: list[str], bs: int) -> None:
        for metric in ("cer", "wer"):
            m = self.metrics[f"train__all__{metric}"]
            m(preds, texts)
            self.log(
                f"train/{metric}",
                m,
                on_step=True,
                on_epoch=False,
                batch_size=bs,
                prog_bar=metric == "cer",
            )

    def _log_combined(self, stage: str) -> None:
        """`stage/cer` and `stage/wer` over every evaluation set together (micro-average)."""
        for metric in ("cer", "wer"):
            m = self.metrics[f"{stage}__all__{metric}"]
            if m.update_called:
                self.log(f"{stage}/{metric}", m.compute(), prog_bar=metric == "cer")
            m.reset()

    def _log_unseen_writers(self) -> None:
        """`val/cer/unseen_writers`, the headline mean, when every set it averages was read."""
        metrics = {
            name: self.metrics[f"val__{name}__cer"]
            for name in UNSEEN_WRITER_SETS
            if name in self.eval_names["val"]
        }
        cers = {name: float(m.compute()) for name, m in metrics.items() if m.update_called}
        mean, _ = unseen_writer_cer(cers)  # never the mean of a subset
        if mean is not None:
            self.log("val/cer/unseen_writers", mean)

    def on_validation_epoch_end(self) -> None:
        self._log_unseen_writers()
        self._log_combined("val")

    def on_test_epoch_end(self) -> None:
        self._log_combined("test")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", "all")

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._step(batch, "val", self.eval_names["val"][dataloader_idx])

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._step(batch, "test", self.eval_names["test"][dataloader_idx])

    def on_validation_epoch_start(self) -> None:
        self.last_samples = {}

    def configure_optimizers(self) -> Any:
        return adamw_cosine(self)

    def _timer(self) -> Timer | None:
        """Lightning's max_time clock, if this fit has one."""
        trainer = self._trainer
        if trainer is None:
            return None
        timers = [cb for cb in trainer.callbacks if isinstance(cb, Timer)]
        return timers[0] if timers and timers[0].time_remaining() is not None else None

    def clock_progress(self) -> float:
        """Share of `max_time` spent so far (0 with no clock), resumed runs included."""
        # The decay ends when the clock does, also on a host slower than max_steps assumed:
        # the last steps then still run at the floor lr, where the CER drops most.
        timer = self._timer()
        return 0.0 if timer is None else _share_spent(timer)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        timer = self._timer()  # one lookup per batch: this runs on every step
        if timer is not None:
            # Every DDP rank must step with the same rate: rank 0's clock decides for all.
            self._clock = float(self.trainer.strategy.broadcast(_share_spent(timer), src=0))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["htr"] = {"config": to_dict(self.config), "charset": self.charset.chars}


def _share_spent(timer: Timer) -> float:
    """Share of the Timer's duration spent (0..1)."""
    elapsed, remaining = timer.time_elapsed(), timer.time_remaining() or 0.0
    return elapsed / max(elapsed + remaining, 1e-9)


def lr_factor(step: int, warmup: int, total: int, floor: float, clock: float = 0.0) -> float:
    """Linear warm-up to 1, then cosine decay to `floor` at step `total` or at `clock` 1.

    `clock` is the share of the time budget spent: whichever of steps and time runs out
    first ends the decay. With neither (total <= 0, clock 0) the rate stays at its peak.
    """
    if step < warmup:
        return (step + 1) / warmup
    by_steps = (step - warmup) / (total - warmup) if total > warmup else 0.0
    progress = min(1.0, max(by_steps, clock))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def adamw_cosine(module: Any) -> dict[str, Any]:
    """AdamW (no weight decay on biases and norms) with linear warm-up then cosine decay,
    ended by module.config's max_steps or by its clock (module._clock), whichever is first."""
    o = module.config.optim
    decay = [p for p in module.parameters() if p.ndim >= 2]
    no_decay = [p for p in module.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": o.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=o.lr,
    )
    total = module.config.trainer.max_steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, o.warmup_steps, total, o.min_lr_ratio, module._clock)
    )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
