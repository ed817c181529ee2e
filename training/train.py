"""Train a recognizer: `python -m training.train --preset quick [--section.key value ...]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from htr.atomic import write_text
from htr.errors import ConfigError, HTRError
from training.callbacks import (
    AveragedWeights,
    PreemptionCheckpoint,
    SamplePredictions,
    Throughput,
    ValidateAtTheEnd,
)
from training.cli import add_arguments, apply_overrides, load_yaml, to_dict
from training.config import PRESETS, TrainConfig, from_saved, preset
from training.data.datamodule import LineDataModule
from training.module import LitRecognizer
from training.runs import build_loggers

log = logging.getLogger("training.train")


def run_dir(cfg: Any) -> Path:
    """The folder of a run: config, checkpoints, TensorBoard and W&B files."""
    return Path(cfg.log.root) / cfg.log.name


def resume_path(
    cfg: Any, last: Path, load: Callable[[dict[str, Any]], Any] = from_saved
) -> Path | None:
    """The checkpoint to continue from, per `cfg.resume`; refuses to overwrite a run.

    `load` reads the config saved in the checkpoint (the line finder's runs have their own).
    """
    if cfg.resume == "always" and not last.exists():
        raise ConfigError(f"resume=always but {last} does not exist; run without --resume first")
    if cfg.resume == "never" and last.exists():
        raise ConfigError(
            f"{last} exists and resume=never; choose another --log.name, "
            "or --resume auto to continue that run"
        )
    if last.exists():
        _check_same_model(cfg, last, load)
        return last
    return None


def _check_same_model(cfg: Any, ckpt: Path, load: Callable[[dict[str, Any]], Any]) -> None:
    """A run continues only with the network it started with."""
    saved = torch.load(ckpt, map_location="cpu", weights_only=False, mmap=True)
    config = saved.get("htr", {}).get("config")
    before = to_dict(load(config))["model"] if config else None  # older runs' keys too
    now = to_dict(cfg)["model"]
    if before != now:
        changed = sorted(k for k in now if before is None or before.get(k) != now[k])
        raise ConfigError(
            f"{ckpt} was trained with other model settings ({changed}); "
            "keep them, or start a new run with another --log.name"
        )


def build_trainer(cfg: TrainConfig, run: Path) -> L.Trainer:
    """A Lightning Trainer from the config's trainer section."""
    callbacks: list[Callback] = [
        *checkpoints(run / "checkpoints", "val/cer"),
        SamplePredictions(),
        Throughput(),
        ValidateAtTheEnd(),
        LearningRateMonitor(logging_interval="step"),
    ]
    # the bucket sampler shards batches across ranks itself
    return make_trainer(cfg, run, callbacks, use_distributed_sampler=False)


def checkpoints(ckpt_dir: Path, monitor: str) -> list[Callback]:
    """The best checkpoint by `monitor` (lower is better), the last one, and one on SIGTERM."""
    return [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best-{step}",
            monitor=monitor,
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        PreemptionCheckpoint(ckpt_dir / "last.ckpt"),
    ]


def make_trainer(cfg: Any, run: Path, callbacks: list[Callback], **extra: Any) -> L.Trainer:
    """A Trainer on cfg.trainer and cfg.optim (any run config with those sections), with
    these callbacks (and the weight average if cfg.optim asks), the run's loggers, and `extra`
    Trainer arguments."""
    t = cfg.trainer
    if cfg.optim.ema_decay:
        # Validation and checkpoints (so best, test and export) see the averaged weights;
        # the raw ones travel in each checkpoint too, so a resumed run continues both.
        callbacks.append(AveragedWeights(decay=cfg.optim.ema_decay))
    devices: Any = int(t.devices) if t.devices.isdigit() else t.devices
    return L.Trainer(
        accelerator=t.accelerator,
        devices=devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        max_time=t.max_time,
        max_steps=t.max_steps,
        max_epochs=t.max_epochs,
        val_check_interval=t.val_check_interval,
        check_val_every_n_epoch=None if t.val_check_interval else 1,
        gradient_clip_val=cfg.optim.grad_clip,
        log_every_n_steps=t.log_every_n_steps,
        callbacks=callbacks,
        logger=build_loggers(cfg, run),
        default_root_dir=str(run),
        num_sanity_val_steps=0,
        enable_model_summary=False,
        **extra,
    )


def check_accelerator(cfg: Any) -> None:
    """Fail before any data is read when the config asks for a GPU this machine lacks."""
    accelerator = cfg.trainer.accelerator
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator!r} but no CUDA GPU is visible here; "
            "use --trainer.accelerator cpu (or auto), or run where a GPU is"
        )


def start_run(
    cfg: Any, load: Callable[[dict[str, Any]], Any] = from_saved
) -> tuple[Path, Path, Path | None]:
    """A run's start: the config checked and saved in its folder, threads and seed set; its
    folder, its last checkpoint's path and the checkpoint to continue from (None: scratch)."""
    cfg.check()
    check_accelerator(cfg)
    run = run_dir(cfg)
    last = run / "checkpoints" / "last.ckpt"
    ckpt = resume_path(cfg, last, load)
    run.mkdir(parents=True, exist_ok=True)
    write_text(
        run / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    )
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True)
    return run, last, ckpt


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Fit (or continue) a run, test the best checkpoint, and return its summary."""
    run, last, ckpt = start_run(cfg)
    dm = LineDataModule(cfg.data)
    dm.setup("fit")
    module = LitRecognizer(cfg, {s: dm.eval_names(s) or [s] for s in ("val", "test")})
    trainer = build_trainer(cfg, run)
    log.info("run %s: %s from %s", run, "continuing" if ckpt else "starting", ckpt or "scratch")
    try:
        summary = _fit_and_test(trainer, module, dm, ckpt, last)
    finally:
        finish_loggers(trainer)
    if trainer.is_global_zero:
        write_text(run / "summary.json", json.dumps(summary, indent=2))
    return summary


def _fit_and_test(
    trainer: L.Trainer, module: LitRecognizer, dm: LineDataModule, ckpt: Path | None, last: Path
) -> dict[str, Any]:
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
    trainer.save_checkpoint(last)  # max_time may stop mid-epoch: keep the very last state
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    summary = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    if dm.eval_sets["test"]:
        results = trainer.test(module, datamodule=dm, ckpt_path=best or None, verbose=False)
        summary.update({k: float(v) for r in results for k, v in r.items()})
    summary.update(
        global_step=trainer.global_step,
        best_checkpoint=best,
        fit_seconds=round(time.perf_counter() - t0, 1),
    )
    return summary


def finish_loggers(trainer: L.Trainer) -> None:
    """Flush W&B's offline run to disk (Lightning leaves the run open)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()


def parse_config(
    argv: list[str] | None,
    config_cls: type = TrainConfig,
    make_preset: Callable[[str], Any] = preset,
    prog: str = "python -m training.train",
    description: str | None = __doc__,
    presets: tuple[str, ...] = PRESETS,
) -> Any:
    """Preset, then a YAML file, then `--section.key value` flags, in that order.

    The defaults parse the recognizer's command line; the line finder passes its own config
    class, presets and program name.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--preset", default="quick", help=" | ".join(presets))
    parser.add_argument("--config", type=Path, help="YAML file with overrides")
    parser.add_argument(
        "--resume",
        dest="resume",
        nargs="?",
        const="always",
        default=argparse.SUPPRESS,
        help="auto | always | never",
    )
    parser.add_argument(
        "--max-time",
        dest="trainer.max_time",
        default=argparse.SUPPRESS,
        help="DD:HH:MM:SS; same as --trainer.max_time",
    )
    parser.add_argument("--print-config", action="store_true", help="print the config, exit")
    add_arguments(parser, config_cls)
    args = vars(parser.parse_args(argv))
    name, file, show = args.pop("preset"), args.pop("config"), args.pop("print_config")
    overrides = load_yaml(file) if file else {}
    overrides.update(args)
    cfg = apply_overrides(make_preset(name), overrides)
    if show:
        yaml.safe_dump(to_dict(cfg), sys.stdout, sort_keys=False, allow_unicode=True)
        raise SystemExit(0)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; caller mistakes exit 2 with the message, not a traceback."""
    return run_training(lambda: train(parse_config(argv)))


def run_training(action: Callable[[], dict[str, Any]]) -> int:
    """Run a training command's action with logging set up and its exit status: 2 with the
    message for a caller's mistake, 143 on SIGTERM and 130 on Ctrl-C (last.ckpt saved)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = action()
    except HTRError as e:
        log.error("%s", e)
        return 2
    except SIGTERMException:  # a SystemExit without a code: make the preemption visible
        log.warning("stopped by SIGTERM; last.ckpt is saved: rerun the same command to continue")
        return 143
    except KeyboardInterrupt:
        log.warning("stopped; the last checkpoint is saved: rerun the same command to continue")
        return 130
    log.info("done: %s", json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
