"""The finder's LightningDataModule: random crops to train on, whole pages to validate on."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from htr.errors import DataError
from training.data.page_samples import PageSample, page_shards, read_page_shard
from training.data.page_targets import page_targets, training_crops
from training.data.synthetic_pages import SyntheticPages
from training.finder.config import FinderDataConfig

log = logging.getLogger(__name__)

SEED_STRIDE = 1_000_003  # the synthetic val pages' seed sits far from the training seed


class TrainPages(Dataset):
    """One epoch's pages: fresh synthetic ones, then every real train page; each item is
    `crops` random crops of one page, (n, 1, crop, crop) and (n, 2, crop/2, crop/2)."""

    def __init__(
        self,
        synthetic: SyntheticPages,
        n_synthetic: int,
        real: list[PageSample],
        config: FinderDataConfig,
        size: int,
        epoch: int,
    ) -> None:
        self.synthetic, self.n_synthetic, self.real = synthetic, n_synthetic, real
        self.config, self.size, self.epoch = config, size, epoch

    def __len__(self) -> int:
        return self.n_synthetic + len(self.real)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        rng = np.random.default_rng([c.seed, self.epoch, i])
        if i < self.n_synthetic:  # each epoch draws pages no earlier epoch saw
            page = self.synthetic[self.epoch * self.n_synthetic + i]
            return training_crops(page, self.size, c.crop, c.crops_per_page, rng, augment=False)
        page = self.real[i - self.n_synthetic]
        return training_crops(page, self.size, c.crop, c.crops_per_page, rng, c.augment_real)


class EvalPages(Dataset):
    """Whole pages, each its finder input (1, H', W') and targets, prepared once."""

    def __init__(self, pages: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.pages = pages

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pages[i]


def collate_crops(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pages' crops into one batch: inputs (B, 1, C, C), targets (B, 2, C/2, C/2)."""
    return {
        "images": torch.cat([x for x, _ in items]),
        "targets": torch.cat([y for _, y in items]),
    }


def collate_page(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One whole page (pages differ in size): inputs (1, 1, H', W'), targets (1, 2, ...)."""
    return {"images": items[0][0][None], "targets": items[0][1][None]}


class FinderDataModule(L.LightningDataModule):
    """Synthetic pages, and the real page shards of `config.pages` when that folder exists."""

    def __init__(self, config: FinderDataConfig, size: int) -> None:
        super().__init__()
        self.config, self.size = config, size
        self.synthetic = SyntheticPages(seed=config.seed, length=2**31 - 1)
        self.real_train: list[PageSample] = []
        self.val_sets: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def setup(self, stage: str | None = None) -> None:
        """Read the real pages and draw the synthetic val pages (idempotent)."""
        if self.val_sets:
            return
        c = self.config
        if c.synthetic_val:
            val = SyntheticPages(seed=c.seed + SEED_STRIDE, length=c.synthetic_val)
            self.val_sets["synthetic"] = [page_targets(val[i], self.size) for i in range(len(val))]
        folder = Path(c.pages)
        if not folder.is_dir():
            log.info("no real pages at %s: training on synthetic pages only", folder)
        else:
            for shard in page_shards(folder, "train"):
                self.real_train += list(read_page_shard(shard))
            for shard in page_shards(folder, "val"):
                name = shard.name.split("-val-")[0]
                pages = [page_targets(p, self.size) for p in read_page_shard(shard)]
                self.val_sets.setdefault(name, []).extend(pages)
            log.info(
                "real pages from %s: %d train, val %s",
                folder,
                len(self.real_train),
                {k: len(v) for k, v in self.val_sets.items()},
            )
        if not self.val_sets:
            raise DataError(
                f"no validation pages: data.synthetic_val=0 and no *-val-*.tar in {folder}; "
                "set data.synthetic_val above 0 or point data.pages at the page shards"
            )
        if not c.synthetic_pages and not self.real_train:
            raise DataError(
                f"no training pages: data.synthetic_pages=0 and no *-train-*.tar in {folder}; "
                "set data.synthetic_pages above 0 or point data.pages at the page shards"
            )

    def val_names(self) -> list[str]:
        """Names of the val sets, in dataloader order."""
        return list(self.val_sets)

    def train_dataloader(self) -> DataLoader:
        c = self.config
        epoch = self.trainer.current_epoch if self._has_trainer() else 0
        ds = TrainPages(self.synthetic, c.synthetic_pages, self.real_train, c, self.size, epoch)
        generator = torch.Generator().manual_seed(c.seed * 1_000 + epoch)
        return DataLoader(
            ds,
            batch_size=c.batch_size // c.crops_per_page,
            shuffle=True,
            generator=generator,
            num_workers=c.num_workers,
            collate_fn=collate_crops,
            drop_last=len(ds) >= c.batch_size // c.crops_per_page,
        )

    def val_dataloader(self) -> list[DataLoader]:
        return [
            DataLoader(EvalPages(pages), batch_size=1, collate_fn=collate_page)
            for pages in self.val_sets.values()
        ]

    def _has_trainer(self) -> bool:
        try:
            return self.trainer is not None
        except RuntimeError:
            return False
