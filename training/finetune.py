"""Fine-tune a published model.pt on a few corrected lines of one hand or document.

A published model may come without its training checkpoint, so the eager network is rebuilt
from the file itself: the training config in its meta, a Recognizer folded as the file's is
(batch norm inside the convolutions, recognizer.fold) and the file's weights. The learning loop
is plain PyTorch: a few hundred steps on a few dozen lines need none of Lightning's machinery.
`python -m release.finetune` writes the result as a model file (release/finetune_export.py).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics.functional.text import char_error_rate

from htr.errors import ConfigError, DataError
from recognizer.ctc import greedy_decode
from recognizer.fold import fold_batch_norm
from recognizer.network import Recognizer, output_lengths
from training.config import TrainConfig, from_saved
from training.data.augment import warp_pen
from training.data.batching import collate
from training.data.charset import Charset, normalize_text
from training.data.datamodule import Lines, to_height
from training.data.lines import LineSample
from training.data.sources import read_path
from training.module import lr_factor

log = logging.getLogger("training.finetune")
WHAT_LINES = (
    "corrected lines: a kraken-style folder of NAME.png + NAME.gt.txt (such as the Space's "
    "feedback/ folder), a WebDataset .tar shard, or a folder of ALTO/PAGE XML"
)


@dataclass
class FinetuneConfig:
    """How long and how gently to adapt a published model."""

    steps: int = 400  # step cap; the clock below may end the run first
    minutes: float = 6.0  # wall-clock cap of the learning loop (the export check is extra)
    lr: float = 1e-3  # peak, then decay to 5% of it (why: experiments/finetune.md)
    warmup: int = 20
    weight_decay: float = 0.01
    batch_size: int = 8
    holdout: float = 0.1  # share of the lines kept out to pick the best step ...
    min_lines_for_holdout: int = 20  # ... once there are this many lines
    eval_every: int = 25  # steps between readings of the held-out lines
    augment: bool = True  # the training run's variation of real lines (training.data.augment)
    # on top of it, elastic warps and thicker pens: a few dozen lines seen hundreds of times
    # should not look the same twice (why: experiments/finetune.md)
    warp: bool = True
    bf16: bool = True  # bfloat16 autocast where oneDNN has native bf16, as training does
    threads: int = 0  # torch CPU threads; 0: torch's default
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.minutes <= 0:
            raise ConfigError(
                f"steps={self.steps}, minutes={self.minutes}; give at least one step and "
                "a positive number of minutes"
            )
        if not 0.0 <= self.holdout < 1.0:
            raise ConfigError(f"holdout={self.holdout}; use a share from 0 to below 1")


@dataclass
class Published:
    """A published model file, rebuilt for learning."""

    path: Path
    scripted: torch.jit.ScriptModule
    meta: dict[str, Any]  # the file's config.json
    config: TrainConfig
    model: Recognizer  # eager, folded like the file's, holding the file's weights


@dataclass
class Result:
    """What a fine-tuning run produced."""

    model: Recognizer  # the weights of the best step (the base's when nothing helped)
    steps: int
    best_step: int
    seconds: float
    train_lines: int
    held_out_lines: int
    history: list[dict[str, float]] = field(default_factory=list)  # held-out CER by step


def load_published(path: Path) -> Published:
    """The network of a model.pt written by `release.export` (or an earlier version of it)."""
    if not path.is_file():
        raise DataError(f"model file {path} does not exist; pass a published model.pt")
    try:
        scripted = torch.jit.load(str(path), map_location="cpu")
        meta = json.loads(scripted.meta_json)
        cfg = from_saved(meta["training_config"])
    except (RuntimeError, ValueError, KeyError, AttributeError) as exc:
        raise DataError(
            f"{path} is not a model file of this project ({exc}); pass the model.pt that "
            "`python -m release.export` wrote"
        ) from exc
    cfg.data.charset = "".join(scripted.chars)  # the file's classes are the truth
    cfg.check()
    model = fold_batch_norm(Recognizer(cfg.model, len(Charset(cfg.data.charset))))
    try:
        model.load_state_dict(scripted.model.state_dict())
    except RuntimeError as exc:
        raise DataError(
            f"{path}: its network does not match the one its config describes ({exc}); "
            "fine-tune it with the commit that exported it"
        ) from exc
    # fuse_conv_bn_eval leaves a folded bias frozen when its convolution had none; it holds
    # the batch norm's shift, which must learn like the rest
    return Published(path, scripted, meta, cfg, model.float().requires_grad_(True))


def read_lines(path: Path, fmt: str = "auto") -> list[LineSample]:
    """Every corrected line at `path`; DataError naming it when there are none."""
    if not path.exists():
        raise DataError(f"{path} does not exist; pass {WHAT_LINES}")
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise DataError(f"{path} is empty; it should hold {WHAT_LINES}")
    samples = read_path(path, fmt)
    if not samples:
        raise DataError(f"{path} holds no transcribed line; it should hold {WHAT_LINES}")
    return samples


def _prepared(samples: list[LineSample], cfg: TrainConfig, charset: Charset) -> list[LineSample]:
    """Lines scaled as the file's preprocessing does; lines with no known character dropped."""
    kept = []
    for s in samples:
        if charset.encode(normalize_text(s.text)):
            image = to_height(s.image, cfg.model.height, cfg.model.crop, cfg.model.x_scale)
            kept.append(LineSample(image, s.text, s.doc, s.meta))
    if not kept:
        raise DataError("none of the lines has a character of the model's set; check the texts")
    return kept


def split_holdout(
    samples: list[LineSample], ft: FinetuneConfig
) -> tuple[list[LineSample], list[LineSample]]:
    """Training lines, and the last few lines held out to pick the best step (none if few)."""
    if len(samples) < ft.min_lines_for_holdout or ft.holdout == 0:
        return samples, []
    k = max(2, round(len(samples) * ft.holdout))
    return samples[:-k], samples[-k:]


def _dataset(
    part: list[LineSample], cfg: TrainConfig, charset: Charset, augment: bool = False
) -> Lines:
    m = cfg.model
    return Lines([part], charset, m.height, m.stride, augment, m.crop, m.x_scale)


def _batches(ds: Lines, n: int, ft: FinetuneConfig) -> Any:
    """Endless random batches of the training lines (similar widths together)."""
    rng = np.random.default_rng(ft.seed)
    size = min(ft.batch_size, n)
    while True:
        order = rng.permutation(n)
        chunks = [order[i : i + size * 4] for i in range(0, n, size * 4)]
        for chunk in chunks:  # sorted by width within a few batches: less padding
            chunk = sorted(chunk.tolist(), key=lambda i: ds.width_of((0, i)))
            for i in range(0, len(chunk) - size + 1, size):
                items = [ds[(0, j)] for j in chunk[i : i + size]]
                if ft.augment and ft.warp:
                    items = [(warp_pen(img, rng), t, text) for img, t, text in items]
                yield collate(items, pad_to=ds.stride)


def _loss(model: nn.Module, batch: dict, stride: int, ctc: nn.CTCLoss) -> torch.Tensor:
    images = batch["images"].contiguous(memory_format=torch.channels_last)
    log_probs = model(images).float()
    lengths = output_lengths(batch["widths"], stride).clamp(max=log_probs.shape[0])
    return ctc(log_probs, batch["targets"], lengths, batch["target_lengths"])


def held_out_cer(model: Recognizer, lines: Lines, stride: int) -> float:
    """Best-path CER of the model on every line of `lines` (no augmentation)."""
    model.eval()
    items = [lines[(0, i)] for i in range(len(lines))]
    batch = collate(items, pad_to=stride)
    with torch.no_grad():
        log_probs = model(batch["images"].contiguous(memory_format=torch.channels_last))
    ids, _ = greedy_decode(log_probs, output_lengths(batch["widths"], stride))
    preds = [lines.charset.decode(x) for x in ids]
    return float(char_error_rate(preds, batch["texts"]))


def _autocast(ft: FinetuneConfig) -> Any:
    on = ft.bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=on)


def _optimizer(model: nn.Module, ft: FinetuneConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": ft.weight_decay}, {"params": rest}]
    return torch.optim.AdamW(groups, lr=ft.lr, weight_decay=0.0)


def finetune(pub: Published, samples: list[LineSample], ft: FinetuneConfig) -> Result:
    """Adapt a copy of the published network to `samples`; the best held-out step wins."""
    if ft.threads:
        torch.set_num_threads(ft.threads)
    torch.manual_seed(ft.seed)
    cfg, charset = pub.config, Charset(pub.config.data.charset)
    train, held = split_holdout(_prepared(samples, cfg, charset), ft)
    stride = cfg.model.stride
    train_ds, held_ds = _dataset(train, cfg, charset, ft.augment), _dataset(held, cfg, charset)
    model = copy.deepcopy(pub.model).to(memory_format=torch.channels_last)
    best = _Best(model, held_ds, stride)
    opt, ctc = _optimizer(model, ft), nn.CTCLoss(blank=0, zero_infinity=True)
    t0, step, budget = time.perf_counter(), 0, ft.minutes * 60
    for batch in _batches(train_ds, len(train), ft):
        clock = (time.perf_counter() - t0) / budget
        if step >= ft.steps or clock >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = ft.lr * lr_factor(step, ft.warmup, ft.steps, 0.05, clock)
        model.train()
        with _autocast(ft):
            loss = _loss(model, batch, stride, ctc)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        if step % ft.eval_every == 0:
            best.update(model, step, float(loss.detach()))
    best.update(model, step, float("nan"), last=True)
    seconds = time.perf_counter() - t0
    log.info(
        "%d steps in %.0f s on %d lines; best step %d of %d held-out lines",
        step,
        seconds,
        len(train),
        best.step,
        len(held),
    )
    return Result(best.model(), step, best.step, seconds, len(train), len(held), best.history)


class _Best:
    """The weights of the step that reads the held-out lines best (the last without any)."""

    def __init__(self, model: Recognizer, held: Lines, stride: int) -> None:
        self.held, self.stride = held, stride
        self.history: list[dict[str, float]] = []
        self.step, self.cer = 0, float("inf")
        self.state = copy.deepcopy(model.state_dict())
        self.template = model
        if len(held):
            self.update(model, 0, float("nan"))

    def update(self, model: Recognizer, step: int, loss: float, last: bool = False) -> None:
        """Keep the weights at `step` if they read the held-out lines better than any before."""
        if not len(self.held):
            if last:
                self.step, self.state = step, copy.deepcopy(model.state_dict())
            return
        if self.history and self.history[-1]["step"] == step:
            return
        cer = held_out_cer(model, self.held, self.stride)
        self.history.append({"step": step, "loss": loss, "held_out_cer": round(cer, 4)})
        log.info("step %d: train loss %.3f, held-out CER %.4f", step, loss, cer)
        if cer <= self.cer:  # ties go to the later step: it has seen the lines longer
            self.step, self.cer = step, cer
            self.state = copy.deepcopy(model.state_dict())

    def model(self) -> Recognizer:
        """The kept weights in the network's structure, eval mode, contiguous layout."""
        out = copy.deepcopy(self.template).to(memory_format=torch.contiguous_format)
        out.load_state_dict(self.state)
        return out.eval()
