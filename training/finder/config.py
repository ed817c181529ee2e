"""Typed configuration of a line finder run, and its presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from htr.errors import ConfigError
from recognizer.finder import FinderConfig
from recognizer.page_input import MULTIPLE
from training.cli import from_dict
from training.config import RESUME, LogConfig, OptimConfig, TrainerConfig

PRESETS = ("quick", "full")


@dataclass
class FinderDataConfig:
    """The pages the finder learns from: synthetic ones, and real ones when they are here."""

    # real page shards (NAME-train-*.tar, NAME-val-*.tar, ../shared/data/pages/README.md);
    # used when the folder exists, each val shard then scored as its own set
    pages: str = "../shared/data/pages"
    synthetic_pages: int = 256  # fresh synthetic pages per epoch, besides every real train page
    synthetic_val: int = 16  # synthetic pages in the val set (a seed of their own)
    crop: int = 512  # training crops of the finder input, pixels a side
    crops_per_page: int = 2  # a drawn page gives this many crops: drawing costs more than a crop
    batch_size: int = 4  # crops per step
    num_workers: int = 1  # loader processes; the page generator runs in them
    augment_real: bool = True  # vary real pages' grey levels and text size
    seed: int = 0

    def __post_init__(self) -> None:
        if self.crop < MULTIPLE or self.crop % MULTIPLE:
            raise ConfigError(f"data.crop={self.crop}; use a multiple of {MULTIPLE}, such as 512")
        if self.crops_per_page < 1 or self.batch_size % self.crops_per_page:
            raise ConfigError(
                f"data.batch_size={self.batch_size}, data.crops_per_page={self.crops_per_page}; "
                "make the batch a whole number of pages (batch_size a multiple of crops_per_page)"
            )
        if self.synthetic_pages < 0 or self.synthetic_val < 0:
            raise ConfigError(
                f"data.synthetic_pages={self.synthetic_pages}, data.synthetic_val="
                f"{self.synthetic_val}; use counts >= 0"
            )


@dataclass
class FinderTrainConfig:
    """A whole line finder run."""

    data: FinderDataConfig = field(default_factory=FinderDataConfig)
    model: FinderConfig = field(default_factory=FinderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    log: LogConfig = field(default_factory=lambda: LogConfig(name="finder"))
    # the baseline band covers a few percent of a page: its ink pixels count this much more
    baseline_weight: float = 4.0
    resume: str = "auto"  # auto: continue ROOT/NAME if it has a last checkpoint | always | never
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resume not in RESUME:
            raise ConfigError(f"resume={self.resume!r}; choose from {RESUME}")
        if not self.baseline_weight > 0:
            raise ConfigError(f"baseline_weight={self.baseline_weight}; use a number > 0")

    def check(self) -> None:
        """Cross-field checks, after every override is applied."""
        if self.data.crop > self.model.size:
            raise ConfigError(
                f"data.crop={self.data.crop} exceeds model.size={self.model.size}; "
                "crop at most the page's long side"
            )


def finder_from_saved(data: dict[str, Any]) -> FinderTrainConfig:
    """The FinderTrainConfig of a finder checkpoint."""
    if "baseline_weight" not in data:
        raise ConfigError(
            "the checkpoint holds no line finder config (a recognizer run?); "
            "choose another --log.name for the finder"
        )
    return from_dict(FinderTrainConfig, data)


def finder_preset(name: str) -> FinderTrainConfig:
    """The named preset: `quick` (minutes on a laptop, for `make demo`) or `full`."""
    cfg = FinderTrainConfig()
    # a short warm-up: even the full run makes only a few thousand steps on a CPU
    cfg.optim.warmup_steps = 20
    cfg.optim.lr = 3e-3
    cfg.trainer.max_steps = -1  # the clock alone ends the run and the decay
    cfg.trainer.log_every_n_steps = 10
    if name == "quick":
        cfg.data.synthetic_pages = 64
        cfg.data.synthetic_val = 8
        cfg.trainer.max_time = "00:00:02:15"  # with reading the pages: about 3 minutes
        cfg.log.name = "finder"
    elif name == "full":
        cfg.data.synthetic_pages = 512
        cfg.data.synthetic_val = 16
        # long enough that the finder stops finding stains and margins as lines; its loss
        # still falls at the end (why: experiments/pages.md, "Training time")
        cfg.trainer.max_time = "00:00:40:00"
        cfg.log.name = "finder-full"
    else:
        raise ConfigError(f"preset={name!r}; choose from {PRESETS}")
    return cfg
