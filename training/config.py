"""Typed configuration of a training run, and the presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from htr.errors import ConfigError
from recognizer.network import ModelConfig
from training.cli import from_dict
from training.data.datamodule import DataConfig
from training.data.sources import SourceConfig
from training.lm import DecodeConfig

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true")
RESUME = ("auto", "always", "never")
WANDB_MODES = ("offline", "online", "disabled")
PRESETS = ("quick", "full", "gpu")


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then cosine decay."""

    lr: float = 2e-3  # peak learning rate (for batch 16; experiments/ablation.md)
    weight_decay: float = 0.01
    warmup_steps: int = 200
    # the decay ends at lr * this, at trainer.max_steps or trainer.max_time, whichever is first
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0  # clip the gradient norm: CTC spikes early on
    # validate, checkpoint and export an exponential moving average of the weights, with this
    # decay per step (0.999: the last ~1,000 steps; early on, the last ~10% of the steps so
    # far); 0 trains and saves the raw weights
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(
                f"optim.ema_decay={self.ema_decay}; choose 0 (off) or a decay in (0, 1), "
                "such as 0.999"
            )


@dataclass
class TrainerConfig:
    """The Lightning flags: where and how long to train."""

    accelerator: str = "auto"  # auto | cpu | gpu | ...
    devices: str = "auto"  # "auto", a count ("2") or a list ("0,1")
    strategy: str = "auto"  # auto | ddp | ddp_spawn | ...
    num_nodes: int = 1
    # bf16 autocast: faster than 32-true on CPUs with bf16 instructions (experiments/layout.md)
    precision: str = "bf16-mixed"
    max_time: str | None = None  # "DD:HH:MM:SS"; training stops (and checkpoints) then
    max_steps: int = -1  # -1: no step limit; also sets the length of the cosine decay
    max_epochs: int = -1
    val_check_interval: int | None = None  # validate every N training batches; None: per epoch
    threads: int = 0  # torch CPU threads per process; 0: leave torch's default
    # NHWC activations and conv weights: oneDNN's fast layout for convolutions on CPU
    # (why: experiments/layout.md, `make layout`)
    channels_last: bool = True
    log_every_n_steps: int = 20

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"trainer.precision={self.precision!r}; choose from {PRECISIONS}")


@dataclass
class LogConfig:
    """Where a run writes, and what it tells the loggers."""

    root: str = "runs"  # every run lives in ROOT/NAME: config, checkpoints, TensorBoard, W&B
    name: str = "quick"
    wandb: str = "offline"  # offline (sync later with `wandb sync`) | online | disabled
    wandb_project: str = "htr"
    samples: int = 8  # sample predictions logged at each validation

    def __post_init__(self) -> None:
        if self.wandb not in WANDB_MODES:
            raise ConfigError(f"log.wandb={self.wandb!r}; choose from {WANDB_MODES}")


@dataclass
class TrainConfig:
    """A whole training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)  # how export decodes (LM)
    resume: str = "auto"  # auto: continue ROOT/NAME if it has a last checkpoint | always | never
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resume not in RESUME:
            raise ConfigError(f"resume={self.resume!r}; choose from {RESUME}")

    def check(self) -> None:
        """Cross-field checks, after every override is applied."""
        if self.model.height != self.data.height:
            raise ConfigError(
                f"model.height={self.model.height} but data.height={self.data.height}; "
                "set both to the same value"
            )
        val, test = self.data.val_fraction, self.data.test_fraction
        if min(val, test) < 0.0 or val + test > 1.0:  # then neither is above 1 either
            raise ConfigError(
                f"data.val_fraction={val}, data.test_fraction={test}: shares of the documents "
                "of split=auto sources; use 0 to 1 each, summing to at most 1"
            )
        # The data widens lines to the model's frames: one definition, the model's.
        self.data.ctc_stride = self.model.stride
        self.data.crop, self.data.x_scale = self.model.crop, self.model.x_scale


# Options removed after they lost (experiments/training-runs.md): a saved config that holds
# one at its old default still loads; any other value needs the commit that had the option.
RETIRED = {
    "model": {"frames": 1, "dilation": []},
    "data": {"real_warp": 0.0, "real_band": 0.0},
}
RETIRED_SEQUENCES = ("lstm", "hybrid")
LAST_WITH_RETIRED = "b037c45"


def from_saved(data: dict[str, Any]) -> TrainConfig:
    """The TrainConfig of a checkpoint or model file, written by this or an earlier version."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    sequence = data.get("model", {}).get("sequence")
    if sequence in RETIRED_SEQUENCES:
        raise ConfigError(
            f"model.sequence={sequence!r} was removed after commit {LAST_WITH_RETIRED}; "
            f"use that commit (`git checkout {LAST_WITH_RETIRED}`) for this file"
        )
    for section, keys in RETIRED.items():
        for key, default in keys.items():
            value = data.get(section, {}).pop(key, default)
            if value != default and not (isinstance(value, (list, tuple)) and not value):
                raise ConfigError(
                    f"{section}.{key}={value!r} was removed after commit {LAST_WITH_RETIRED}; "
                    f"use that commit (`git checkout {LAST_WITH_RETIRED}`) for this file"
                )
    return from_dict(TrainConfig, data)


# Every real source of ../shared/data/lines, and each one's share of the training lines drawn
# (with the synthetic share, they sum to 1): Copiste and Hooker keep most, since their val sets
# carry the copiste and hooker targets; the HTR-United sets bring the other hands and periods
# the unseen-writer sets are made of. These shares are a starting point, not yet a measured
# choice: experiments/training-runs.md, "Every source".
REAL_TRAIN = {
    "copiste": 0.25,
    "hooker": 0.3,
    "poilus": 0.06,
    "cremma18": 0.04,
    "cremma19": 0.06,
    "cremma20": 0.02,
    "lectaurep": 0.07,
}
REAL_VAL = ("copiste", "hooker", "poilus", "cremma18", "cremma19", "lectaurep")


def _real(split: str, weights: dict[str, float]) -> list[SourceConfig]:
    """One source per set of a split; val sets are named like their shards (`copiste-val`),
    the names training.val_sets averages."""
    root = "../shared/data/lines"
    return [
        SourceConfig(
            f"{root}/{name}-{split}-*.tar",
            split=split,
            weight=weight,
            name=f"{name}-val" if split == "val" else name,
        )
        for name, weight in weights.items()
    ]


def preset(name: str) -> TrainConfig:
    """The named preset: `quick` (synthetic, minutes on a laptop), `full` (plus real lines) or
    `gpu` (`full` in batches of 64 on one GPU)."""
    if name == "quick":
        cfg = TrainConfig()
        cfg.data.lines_per_epoch = 8192
        cfg.data.synthetic_val = 256
        cfg.model.dropout = 0.0  # endless fresh lines: nothing to regularise, and it learns faster
        cfg.optim.lr = 3e-3  # a short run: lower CER at the same step than with 2e-3
        cfg.trainer.max_time = "00:00:09:00"
        # The step cap or the clock, whichever comes first, ends the cosine decay, and the last
        # step is validated: a slow host makes fewer steps, all of them useful. The cap sits
        # above what the clock usually allows, so that the clock ends the decay.
        # why: experiments/training-runs.md, "The quick target"
        cfg.trainer.max_steps = 3300
    elif name == "full":
        cfg = TrainConfig()
        cfg.data.sources = [
            SourceConfig(weight=0.2),
            *_real("train", REAL_TRAIN),
            *_real("val", dict.fromkeys(REAL_VAL, 1.0)),
        ]
        # lines between validations: each reads every val line, so a long epoch keeps that
        # cost a small share of the run (experiments/training-runs.md, "How often the presets")
        cfg.data.lines_per_epoch = 32768
        cfg.data.synthetic_val = 256
        cfg.model.dropout = 0.1  # real lines repeat within a run; synthetic ones never do
        # One draw per channel and line: cheaper on CPU than one per activation, and level with
        # it at the same step (why: experiments/layout.md; experiments/training-runs.md,
        # "Channel dropout")
        cfg.model.dropout_mode = "channel"
        # A deeper, wider CNN: lower Hooker CER at the same step, no worse at the same
        # wall-clock (why: experiments/training-runs.md, "A deeper, wider CNN front end");
        # 192 wide in the last stage
        cfg.model.channels = (16, 32, 64, 192)
        # One 3x3 conv in the last stage, not two: about half the network's FLOPs, so more
        # steps in the time and a line served sooner; after 2 hours, with the LM, Copiste
        # reads as well and Hooker nearly as well (why: experiments/training-runs.md,
        # "One 3x3 convolution")
        cfg.model.depth = (1, 1, 2, 1)
        cfg.model.crop = True  # lines cropped to their ink: the ink, not the paper, fills them
        # Taller input reads better per step but makes each step dearer; 48 px, with channel
        # dropout paying for it, ended better than 40 px with the LM in the same time
        # (why: experiments/training-runs.md, "48-px input")
        cfg.model.height = cfg.data.height = 48
        cfg.optim.ema_decay = 0.999  # validate and export the average of the last ~1,000 steps
        cfg.trainer.max_time = "00:02:00:00"
        cfg.trainer.max_steps = -1  # the clock alone ends the run and the decay, fast host or slow
    elif name == "gpu":
        cfg = preset("full")
        cfg.data.batch_size = 64  # a GPU step costs about the same for 16 or 64 lines
        # the loaders, not the GPU, set the pace (why: experiments/training-runs.md, "The `gpu`
        # preset"); 4x the `full` preset's lines between validations, at a GPU's pace
        cfg.data.num_workers = 6
        cfg.data.lines_per_epoch = 131_072
        cfg.optim.lr = 4e-3  # 2e-3 at batch 16, times the square root of 4
        cfg.optim.warmup_steps = 500
        cfg.trainer.accelerator = "gpu"
        cfg.trainer.max_time = "00:00:30:00"
        cfg.trainer.max_steps = -1  # the clock alone ends the run and the decay
        cfg.trainer.log_every_n_steps = 50
    else:
        raise ConfigError(f"preset={name!r}; choose from {PRESETS}")
    cfg.log.name = name
    return cfg
