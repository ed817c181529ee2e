"""The LightningDataModule: mixed sources, document-disjoint splits, width-bucketed batches."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from recognizer.preprocess import MAX_WIDTH, fit_height
from training.data.augment import distort_real
from training.data.batching import BucketBatchSampler, Key, Rebucketed, collate
from training.data.charset import CHARSET, Charset, normalize_text
from training.data.lines import LineSample
from training.data.sources import SourceConfig, doc_split, load_source
from training.data.synthetic import SyntheticConfig, SyntheticLines

log = logging.getLogger(__name__)

SEED_STRIDE = 1_000_003  # synthetic val/test seeds sit far from the training seed


@dataclass
class DataConfig:
    """What the model is trained and validated on."""

    sources: list[SourceConfig] = field(default_factory=lambda: [SourceConfig()])
    height: int = 40  # model input height in pixels; every line is scaled to it
    # on CPU a batch of 32 trains no more lines a second than 16, which updates twice as often
    # (why: experiments/ablation.md)
    batch_size: int = 16
    lines_per_epoch: int = 8192  # training lines drawn per epoch across all sources
    synthetic_val: int = 512  # synthetic lines in the val split (and in the test split)
    val_fraction: float = 0.1  # share of documents of split="auto" sources used for val
    test_fraction: float = 0.1  # ... and for test
    num_workers: int = 1  # loader processes; the synthetic generator runs in them
    bucket_factor: int = 50  # batches drawn ahead and sorted by width to cut padding
    rebucket: int = 16  # drawn batches re-formed together by actual width (1: off); see batching
    ctc_stride: int = 4  # pixels per CTC frame (set from the model): narrow lines are widened
    crop: bool = False  # crop lines to their ink before scaling (set from model.crop)
    x_scale: float = 1.0  # width factor after scaling (set from model.x_scale)
    augment_real: bool = True  # vary real training lines (width, slant, contrast, blur)
    seed: int = 0
    cache_dir: str = "cache/data"  # downloads land here
    charset: str = CHARSET


def to_height(img: np.ndarray, height: int, crop: bool = False, x_scale: float = 1.0) -> np.ndarray:
    """Scale a (H, W) uint8 line to `height` (cropped to its ink if `crop`) with the serving
    code's preprocessing (one definition)."""
    if img.shape[0] == height and not crop and x_scale == 1.0:
        return img
    grey = torch.tensor(img, dtype=torch.float32)  # a copy: decoded images are read-only
    out = fit_height(grey, height, MAX_WIDTH, crop, x_scale)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


def fit_ctc(img: np.ndarray, n_targets: int, stride: int) -> np.ndarray:
    """Widen a line too narrow for its text: CTC needs a time step per label and then some."""
    need = (2 * n_targets + 1) * stride  # two steps per label: room for repeats and blanks
    if img.shape[1] >= need:
        return img
    return np.asarray(Image.fromarray(img).resize((need, img.shape[0]), Image.Resampling.BILINEAR))


class Lines(Dataset):
    """Lines of several parts (real lists or a synthetic generator), addressed by (part, i)."""

    def __init__(
        self,
        parts: list,
        charset: Charset,
        height: int,
        stride: int,
        augment: bool = False,
        crop: bool = False,
        x_scale: float = 1.0,
    ) -> None:
        self.parts = parts
        self.charset = charset
        self.height = height
        self.stride = stride
        self.augment = augment  # vary real lines (synthetic ones vary by construction)
        self.crop, self.x_scale = crop, x_scale
        self._calls = 0  # with the worker's torch seed: each draw differs, runs repeat

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __getitem__(self, key: Key | int) -> tuple[np.ndarray, list[int], str]:
        part, i = key if isinstance(key, tuple) else (0, key)
        s: LineSample = self.parts[part][i]
        text = normalize_text(s.text)
        target = self.charset.encode(text)
        drawn = isinstance(self.parts[part], SyntheticLines)
        img = s.image
        # lines in lists were prepared once when loaded; the generator's are drawn here
        if drawn or img.shape[0] != self.height:
            img = to_height(img, self.height, self.crop, self.x_scale)
        if self.augment and not drawn:
            self._calls += 1
            rng = np.random.default_rng([torch.initial_seed() % 2**32, part, i, self._calls])
            img = distort_real(img, rng)
        img = fit_ctc(img, len(target), self.stride)
        return img, target, self.charset.decode(target)

    def width_of(self, key: Key) -> float:
        """Width estimate for bucketing without drawing the line."""
        part, i = key
        p = self.parts[part]
        if isinstance(p, SyntheticLines):
            return p.text_length(i) * 0.5  # about half a line height per character
        return p[i].image.shape[1] / p[i].image.shape[0]


class LineDataModule(L.LightningDataModule):
    """Loads every source once, splits it by document and serves width-bucketed batches."""

    def __init__(self, config: DataConfig | None = None) -> None:
        super().__init__()
        self.config = config or DataConfig()
        self.charset = Charset(self.config.charset)
        self.train_parts: list = []
        self.train_weights: list[float] = []
        self.eval_sets: dict[str, dict[str, list]] = {"val": {}, "test": {}}
        self.unknown: dict[str, Counter[str]] = {}

    def setup(self, stage: str | None = None) -> None:
        """Read the sources and assign each document to one split (idempotent)."""
        if self.train_parts:
            return
        c = self.config
        for src in c.sources:
            if src.format == "synthetic":
                self._add_synthetic(src)
            else:
                self._add_real(src, load_source(src, Path(c.cache_dir)))
        for name, counts in self.unknown.items():
            if counts:
                log.warning(
                    "%s: %d characters outside the charset (kept out of targets): %s",
                    name,
                    sum(counts.values()),
                    dict(counts.most_common(12)),
                )

    def _add_synthetic(self, src: SourceConfig) -> None:
        c = self.config
        # Cropping takes off the generator's random margins: lines drawn 6/5 as tall are then
        # scaled down, not up (why: experiments/training-runs.md, "Cropped lines")
        syn = SyntheticConfig(height=c.height * 6 // 5 if c.crop else c.height)
        self.train_parts.append(SyntheticLines(syn, c.seed, length=2**31 - 1, charset=c.charset))
        self.train_weights.append(src.weight)
        for k, split in enumerate(("val", "test"), start=1):
            gen = SyntheticLines(syn, c.seed + k * SEED_STRIDE, c.synthetic_val, c.charset)
            self.eval_sets[split][src.name] = [self._prepared(gen[i]) for i in range(len(gen))]

    def _prepared(self, s: LineSample) -> LineSample:
        """The line as the model sees it (cropped, scaled), done once for lines kept in lists."""
        c = self.config
        s.image = to_height(s.image, c.height, c.crop, c.x_scale)
        return s

    def _add_real(self, src: SourceConfig, samples: list[LineSample]) -> None:
        c = self.config
        self.unknown.setdefault(src.name, Counter())
        by_split: dict[str, list[LineSample]] = {"train": [], "val": [], "test": []}
        for s in samples:
            self.unknown[src.name].update(self.charset.unknown(normalize_text(s.text)))
            self._prepared(s)  # scale once: smaller and faster to batch
            split = (
                src.split
                if src.split != "auto"
                else doc_split(s.doc, c.val_fraction, c.test_fraction)
            )
            by_split[split].append(s)
        if by_split["train"]:
            self.train_parts.append(by_split["train"])
            self.train_weights.append(src.weight)
        for split in ("val", "test"):
            if by_split[split]:
                self.eval_sets[split][src.name] = by_split[split]
        log.info(
            "%s: train %d, val %d, test %d lines",
            src.name,
            *(len(by_split[k]) for k in ("train", "val", "test")),
        )

    def _dataset(self, parts: list, augment: bool = False) -> Lines:
        c = self.config
        return Lines(
            parts,
            self.charset,
            c.height,
            c.ctc_stride,
            augment,
            crop=c.crop,
            x_scale=c.x_scale,
        )

    def _loader(self, ds: Lines, **kw) -> DataLoader:
        n = self.config.num_workers
        return DataLoader(
            ds,
            num_workers=n,
            persistent_workers=n > 0,
            collate_fn=partial(collate, pad_to=self.config.ctc_stride),
            **kw,
        )

    def train_dataloader(self) -> DataLoader:
        c = self.config
        ds = self._dataset(self.train_parts, augment=c.augment_real)
        trainer = self.trainer if self._has_trainer() else None
        sampler = BucketBatchSampler(
            [len(p) for p in self.train_parts],
            self.train_weights,
            ds.width_of,
            batch_size=c.batch_size,
            lines_per_epoch=c.lines_per_epoch,
            seed=c.seed,
            bucket_factor=c.bucket_factor,
            fresh=[isinstance(p, SyntheticLines) for p in self.train_parts],
            rank=trainer.global_rank if trainer else 0,
            world_size=trainer.world_size if trainer else 1,
            epoch=trainer.current_epoch if trainer else 0,
        )
        # the worker must draw a whole group ahead, or it idles while the group trains
        ahead = {"prefetch_factor": 2 * c.rebucket} if c.num_workers and c.rebucket > 1 else {}
        loader = self._loader(ds, batch_sampler=sampler, **ahead)
        if c.rebucket <= 1:
            return loader
        return Rebucketed(loader, c.rebucket, c.batch_size, seed=c.seed)  # type: ignore[return-value]

    def _has_trainer(self) -> bool:
        try:
            return self.trainer is not None
        except RuntimeError:
            return False

    def eval_names(self, split: str) -> list[str]:
        """Names of the val or test sets, in dataloader order."""
        return list(self.eval_sets[split])

    def _eval_loaders(self, split: str) -> list[DataLoader]:
        trainer = self.trainer if self._has_trainer() else None
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        loaders = []
        for samples in self.eval_sets[split].values():
            order = sorted(range(len(samples)), key=lambda i: samples[i].image.shape[1])
            ds = self._dataset([[samples[i] for i in order]])  # sorted: little padding
            # Each DDP rank reads every world-th line, none twice (torchmetrics sums the
            # ranks' counts): without this every rank would evaluate the whole set. A set
            # with fewer lines than ranks is read whole by each: a rank without a batch of
            # it would never log its keys, and the others would wait for it at the sync.
            lines = range(rank, len(ds), world) if len(ds) >= world else range(len(ds))
            loaders.append(self._loader(ds, batch_size=self.config.batch_size, sampler=lines))
        return loaders

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("val")

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders("test")
