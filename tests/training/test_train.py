"""Training: a step runs, a tiny batch is learnt, interruption resumes, DDP and loggers work."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import torch
from torchmetrics.functional.text import char_error_rate

from htr.errors import ConfigError
from training.data.batching import collate
from training.data.datamodule import Lines
from training.data.synthetic import SyntheticConfig, SyntheticLines
from training.module import LitRecognizer
from training.train import train

ROOT = Path(__file__).resolve().parents[2]


def _batch(cfg, n: int) -> dict:
    gen = SyntheticLines(SyntheticConfig(height=cfg.data.height), seed=5)
    lines = Lines([[gen[i] for i in range(n)]], LitRecognizer(cfg).charset, cfg.data.height, 4)
    return collate([lines[(0, i)] for i in range(n)], pad_to=4)


def test_one_optimisation_step_changes_the_weights(tiny):
    cfg = tiny()
    module = LitRecognizer(cfg)
    opt = module.configure_optimizers()["optimizer"]
    before = [p.detach().clone() for p in module.parameters()]
    loss = module.training_step(_batch(cfg, 4), 0)
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_channels_last_changes_the_layout_not_the_loss_or_the_checkpoint(tiny):
    batch = _batch(tiny(), 4)
    losses, grads = [], []
    for channels_last in (False, True):
        torch.manual_seed(0)
        module = LitRecognizer(tiny(trainer__channels_last=channels_last))
        module.on_fit_start()
        conv = module.model.cnn[2][0].weight  # 8 -> 16 channels: one input channel has no layout
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
        loss = module.training_step(batch, 0)
        loss.backward()
        losses.append(float(loss))
        grads.append(conv.grad.detach().clone())
    assert abs(losses[0] - losses[1]) < 1e-4
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-4)  # summation order only
    # Serving loads the weights into a fresh (contiguous) network: the values are what count.
    fresh = LitRecognizer(tiny()).model
    fresh.load_state_dict(module.model.state_dict())
    assert fresh.cnn[2][0].weight.is_contiguous()


def test_overfits_a_tiny_batch_to_zero_cer(tiny):
    torch.manual_seed(0)
    cfg = tiny(model__channels="16,32,48", model__hidden=64, model__dropout=0.0, optim__lr=3e-3)
    module = LitRecognizer(cfg)
    opt = torch.optim.AdamW(module.parameters(), lr=3e-3)
    batch = _batch(cfg, 4)
    losses, cer = [], 1.0
    for step in range(400):
        module.train()
        loss = module.training_step(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if step % 25 == 24:
            module.eval()
            with torch.no_grad():
                lp = module(batch["images"])
            preds = module.decode(lp, batch["widths"] // 4)
            cer = float(char_error_rate(preds, batch["texts"]))
            if cer == 0.0:
                break
    assert losses[-1] < losses[0] / 5
    assert cer == 0.0, (preds, batch["texts"])


@contextlib.contextmanager
def _running(callback: L.Callback) -> Iterator[None]:
    """`train` inside the block builds trainers that also run `callback`."""
    import training.train as train_mod

    build = train_mod.build_trainer

    def building(cfg, run):
        trainer = build(cfg, run)
        trainer.callbacks.append(callback)
        return trainer

    with pytest.MonkeyPatch.context() as m:
        m.setattr(train_mod, "build_trainer", building)
        yield


class _Sigterm(L.Callback):
    """Sends this process SIGTERM after `at` steps, as a preempted instance would receive."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_saves_and_rerun_continues_at_the_same_step(tiny):
    cfg = tiny(trainer__max_steps=8)
    with _running(_Sigterm(at=3)), pytest.raises(SystemExit):
        train(cfg)
    last = Path(cfg.log.root) / "tiny" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=False)
    assert saved["global_step"] == 3
    assert saved["htr"]["config"]["model"]["hidden"] == 32  # the config travels with it
    summary = train(tiny(trainer__max_steps=8))  # the same command again
    assert summary["global_step"] == 8
    steps = _tensorboard_steps(Path(cfg.log.root) / "tiny" / "tensorboard", "train/loss")
    assert min(steps) < 3 and max(steps) >= 7  # history of both runs is kept


def _tensorboard_steps(folder: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps: list[int] = []
    for f in sorted(folder.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            steps += [e.step for e in acc.Scalars(tag)]
    return steps


def _val_shard(path: Path) -> str:
    from training.data.webdataset import write_shard

    gen = SyntheticLines(SyntheticConfig(height=64), seed=9)
    write_shard([gen[i] for i in range(6)], path)
    return str(path)


def test_both_loggers_write_their_files(tiny, tmp_path):
    shard = _val_shard(tmp_path / "extra-val.tar")
    cfg = tiny(
        log__wandb="offline", data__sources=f"[{{uri: synthetic}}, {{uri: '{shard}', split: val}}]"
    )
    summary = train(cfg)
    run = Path(cfg.log.root) / "tiny"
    assert 0.0 <= summary["val/cer"] and "test/cer" in summary
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, list] = {"scalars": [], "images": [], "tensors": []}
    for f in (run / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(f))
        acc.Reload()
        for k in tags:
            tags[k] += acc.Tags()[k]
    assert {
        "train/loss",
        "val/cer",
        "val/wer",
        "val/cer/synthetic",
        "val/cer/extra-val",
        "val/loss/extra-val",
        "lr-AdamW/pg1",
    } <= set(tags["scalars"])
    assert {"samples/synthetic", "samples/extra-val"} <= set(tags["images"])
    runs = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert runs and runs[0].stat().st_size > 0
    assert b"model-" in runs[0].read_bytes()  # the best checkpoint, as a model artifact
    assert (run / "wandb-data" / "artifacts").is_dir()  # staged in the run, not in $HOME
    assert (run / "config.yaml").exists() and (run / "summary.json").exists()


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path, tiny_settings):
    args = [
        sys.executable,
        "-m",
        "training.train",
        "--log.root",
        str(tmp_path),
        "--log.name",
        "ddp",
        "--trainer.strategy",
        "ddp",
        "--trainer.devices",
        "2",
        "--trainer.accelerator",
        "cpu",
        "--trainer.threads",
        "1",
        "--trainer.max_time",  # a clock: the ranks share rank 0's for the lr decay
        "00:00:10:00",
    ]
    for k, v in tiny_settings.items():
        if k not in ("trainer.threads", "trainer.max_time"):
            args += [f"--{k}", "none" if v is None else str(v)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["global_step"] == 6
    assert "ddp" in proc.stderr.lower() or "distributed" in proc.stderr.lower()


def test_the_last_step_is_validated_when_max_steps_ends_mid_epoch(tiny):
    # 4 batches an epoch; 6 steps end mid-epoch 2, where Lightning would not validate.
    cfg = tiny(trainer__max_steps=6)
    train(cfg)
    steps = _tensorboard_steps(Path(cfg.log.root) / "tiny" / "tensorboard", "val/cer")
    assert steps[-1] == 5, steps  # logged at global step 6 - 1, after the last update


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error is for machines without a GPU")
def test_the_gpu_preset_without_a_gpu_fails_at_once_naming_the_key(tmp_path):
    from htr.errors import ConfigError
    from training.config import preset

    cfg = preset("gpu")
    cfg.log.root = str(tmp_path)
    with pytest.raises(ConfigError, match=r"trainer.accelerator='gpu'.*--trainer.accelerator cpu"):
        train(cfg)
    assert not (tmp_path / "gpu").exists()  # nothing written, no data read


def _a_weight(checkpoint: dict) -> tuple[str, torch.Tensor, torch.Tensor]:
    """A weight matrix of an EMA checkpoint: its name, average (`state_dict`) and raw value."""
    averaged, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    name = next(k for k, v in raw.items() if v.is_floating_point() and v.dim() > 1)
    return name, averaged[name], raw[name]


def test_ema_checkpoints_hold_the_average_and_a_resumed_run_continues_it(tiny):
    cfg = tiny(trainer__max_steps=8, optim__ema_decay=0.5)
    with _running(_Sigterm(at=3)), pytest.raises(SystemExit):
        train(cfg)
    last = Path(cfg.log.root) / "tiny" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["averaging_state"]["n_averaged"] == 3
    train(tiny(trainer__max_steps=8, optim__ema_decay=0.5))
    saved = torch.load(last, weights_only=False)
    assert saved["averaging_state"]["n_averaged"] == 8  # the average went on, not restarted
    _, averaged, raw = _a_weight(saved)
    assert not torch.equal(averaged, raw)  # export reads the averaged weights


class _TestedWeights(L.Callback):
    """Records the module's weights when the test stage starts."""

    def on_test_start(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


def test_the_test_stage_scores_the_averaged_weights_that_export_reads(tiny):
    seen = _TestedWeights()
    with _running(seen):
        summary = train(tiny(trainer__max_steps=8, optim__ema_decay=0.5))
    name, averaged, raw = _a_weight(torch.load(summary["best_checkpoint"], weights_only=False))
    assert not torch.equal(averaged, raw)
    assert torch.equal(seen.state[name], averaged)  # not the raw weights of that step


def test_an_ema_decay_of_one_fails_naming_the_key(tiny):
    with pytest.raises(ConfigError, match=r"optim\.ema_decay=1\.0.*0\.999"):
        tiny(optim__ema_decay=1.0)
