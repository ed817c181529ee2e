"""Export a checkpoint to the serving contract: `python -m release.export CHECKPOINT`.

Writes model_repo/model.pt (TorchScript: preprocessing, network, charset, CTC decoding, the
confidence calibration fitted on the run's validation lines (release.calibration) and, with
--finder, the line finder that reads whole pages) and
model_repo/config.json, only after the scripted module is shown to agree with the eager one.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from htr.atomic import write_text, write_with
from htr.errors import DataError, InternalError
from recognizer.network import Recognizer, count_parameters
from recognizer.page_finder import PageFinder
from recognizer.predictor import LinePredictor
from recognizer.preprocess import MAX_WIDTH
from release import calibration
from release.finder_export import load_finder, verify_pages
from training.cli import add_arguments, apply_overrides, run_command, to_dict
from training.config import TrainConfig, from_saved
from training.data.charset import Charset
from training.lm import DecodeConfig, build_tables, corpus

log = logging.getLogger("release.export")
SIZE_BUDGET_MB = 20
SEQUENCE_NAMES = {
    "transformer": "Transformer encoder",
    "conv": "1-D separable convolutions",
}


def load_checkpoint(path: Path) -> tuple[TrainConfig, Recognizer]:
    """Config and network weights of a training checkpoint of this project."""
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist; pass runs/NAME/checkpoints/*.ckpt")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "htr" not in ckpt or "state_dict" not in ckpt:
        raise DataError(
            f"{path} is not a checkpoint of this project (no 'htr' entry); "
            "pass a file written by `python -m training.train`"
        )
    cfg = from_saved(ckpt["htr"]["config"])
    model = Recognizer(cfg.model, len(Charset(cfg.data.charset)))
    state = {
        k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")
    }
    model.load_state_dict(state)
    return cfg, model.eval()


def git_commit(length: int = 40) -> str:
    """The code's commit (its first `length` hex digits), with `-dirty` when tracked files
    differ from it, or "unknown" outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=root
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=root,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha[:length] + ("-dirty" if dirty.strip() else "")


def check_images() -> list[torch.Tensor]:
    """A fixed set of inputs covering every accepted layout, size and polarity."""
    g = torch.Generator().manual_seed(1234)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)

    line = torch.full((64, 900), 235, dtype=torch.uint8)
    line[24:40, 40:860:3] = 20  # ink-like strokes on paper
    return [
        line,
        255 - line,
        rand(32, 100),
        rand(64, 1024),
        rand(100, 300, 3),
        rand(50, 700, 4),
        rand(20, 3000, 1),
        rand(7, 5),
        line[:, :64, None].expand(64, 64, 3),
    ]


def verify(eager: LinePredictor, scripted: torch.jit.ScriptModule, atol: float = 1e-4) -> None:
    """Refuse to export unless scripted and eager agree on logits, texts, confidences and
    words (`read_lines`, calibrated or not)."""
    images = check_images()
    with torch.no_grad():
        for i, img in enumerate(images):
            x_e, x_s = eager.preprocess(img)[None], scripted.preprocess(img)[None]
            diff = float((eager(x_e) - scripted(x_s)).abs().max())
            if diff > atol:
                raise InternalError(
                    f"scripted and eager outputs differ by {diff:.2e} on check "
                    f"image {i} {list(img.shape)}; nothing was written"
                )
        texts = eager.predict_batch(images), scripted.predict_batch(images)
        e, s = eager.read_lines(images), scripted.read_lines(images)
    for i, ((te, ce, ke, we), (ts, cs, ks, ws)) in enumerate(zip(e, s, strict=True)):
        same_words = [w for w, _ in we] == [w for w, _ in ws] and all(
            abs(a[1] - b[1]) <= 1e-4 for a, b in zip(we, ws, strict=True)
        )
        if te != ts or texts[0][i] != te or texts[1][i] != ts or abs(ce - cs) > 1e-4:
            raise InternalError(
                f"check image {i}: eager {te!r} ({ce:.4f}) vs scripted {ts!r} "
                f"({cs:.4f}); nothing was written"
            )
        if ke != ks or not same_words:
            raise InternalError(f"check image {i}: words {we} vs {ws}; nothing was written")


def _digest(path: Path) -> str:
    from training.data.download import sha256_file

    return sha256_file(path)


def metadata(cfg: TrainConfig, model: Recognizer, checkpoint: Path) -> dict[str, Any]:
    """What config.json and the module's meta say about the model."""
    commit = git_commit()
    summary_file = checkpoint.parent.parent / "summary.json"
    metrics = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return {
        "architecture": {
            "type": f"CNN + {cfg.model.sequence} + CTC",
            **to_dict(cfg.model),
            "parameters": count_parameters(model),
            "stride": cfg.model.stride,
        },
        "charset": cfg.data.charset,
        "input_height": cfg.model.height,
        "max_width": MAX_WIDTH,
        "data_sources": [to_dict(s) for s in cfg.data.sources],
        "metrics": {k: v for k, v in metrics.items() if k.startswith(("val/", "test/"))},
        "git_commit": commit,
        "version": f"{time.strftime('%Y%m%d')}-{commit[:7]}-{_digest(checkpoint)[:6]}",
        "checkpoint": checkpoint.name,
        "training_config": to_dict(cfg),
        "decode": to_dict(cfg.decode),
    }


def _copy_runs(tensorboard: Path, dest: Path) -> None:
    """The run's TensorBoard event files travel with the model (the Hub's metrics tab)."""
    if not tensorboard.is_dir():
        return
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        tensorboard, dest / tensorboard.parent.name, ignore=shutil.ignore_patterns("*.tmp")
    )


def _already_exported(out_dir: Path, meta: dict[str, Any], calibrate: bool) -> bool:
    config = out_dir / "config.json"
    if not (config.is_file() and (out_dir / "model.pt").is_file()):
        return False
    old = json.loads(config.read_text(encoding="utf-8"))
    calibrated = bool(old.get("calibration", {}).get("calibrated"))
    return (
        old.get("version") == meta["version"]
        and old.get("decode") == meta["decode"]
        and calibrated == calibrate  # a file from before calibration is exported again
        and _finder_digest(old) == _finder_digest(meta)
    )


def _finder_digest(meta: dict[str, Any]) -> str:
    return (meta.get("finder") or {}).get("checkpoint_sha256", "")


def predictor(
    cfg: TrainConfig, model: Recognizer, meta: dict[str, Any], finder: PageFinder | None = None
) -> LinePredictor:
    """The serving module of a network, with the LM of cfg.decode built from the run's
    training text (meta gains its size and is embedded as JSON), and the line finder if any."""
    d = cfg.decode
    lm = None
    if d.beam > 0:
        tables = build_tables(d, Charset(cfg.data.charset), corpus(d, cfg.data))
        lm = (tables["keys"], tables["values"])
    meta["lm_entries"] = 0 if lm is None else int(lm[0].numel())
    return LinePredictor(
        model,
        cfg.data.charset,
        cfg.model.height,
        cfg.model.stride,
        MAX_WIDTH,
        json.dumps(meta, ensure_ascii=False, indent=2),
        meta["version"],
        lm=lm,
        decode=(d.beam, d.order, d.top_k, d.alpha, d.beta, d.prune),
        crop=cfg.model.crop,
        x_scale=cfg.model.x_scale,
        bf16=d.bf16,
        finder=finder,
    )


def export(
    checkpoint: Path,
    out_dir: Path = Path("model_repo"),
    decode: dict[str, Any] | None = None,
    calibrate: bool = True,
    finder: Path | None = None,
) -> Path:
    """Script, calibrate, verify, warm and write model.pt and config.json into `out_dir`;
    `decode` overrides fields of the checkpoint's DecodeConfig (e.g. {"beam": 0}); with a
    `finder` checkpoint the file reads whole pages too."""
    cfg, model = load_checkpoint(checkpoint)
    cfg.decode = apply_overrides(cfg.decode, decode or {})
    meta = metadata(cfg, model, checkpoint)
    page_finder, meta["finder"] = load_finder(finder) if finder else (None, None)
    if _already_exported(out_dir, meta, calibrate):
        # TorchScript files differ byte-wise between two saves of the same module: keeping
        # the first makes re-running `make demo` publish nothing new.
        log.info("%s already holds version %s; nothing to do", out_dir, meta["version"])
        return out_dir / "model.pt"
    eager = predictor(cfg, model, meta, page_finder)
    scripted = torch.jit.script(eager)
    if calibrate:  # confidence as the probability of a line read with CER <= 10%
        meta["calibration"] = calibration.calibrate(cfg, eager, scripted)
        eager.meta_json = json.dumps(meta, ensure_ascii=False, indent=2)
        scripted.meta_json = eager.meta_json
    meta_json = eager.meta_json
    verify(eager, scripted)
    if page_finder is not None:
        verify_pages(eager, scripted)
    scripted.warmup()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "model.pt"
    write_with(
        target, lambda p: torch.jit.save(scripted, str(p), _extra_files={"config.json": meta_json})
    )
    write_text(out_dir / "config.json", meta_json + "\n")
    _copy_runs(checkpoint.parent.parent / "tensorboard", out_dir / "runs")
    size_mb = target.stat().st_size / 2**20
    if size_mb > SIZE_BUDGET_MB:
        log.warning("%s is %.1f MB, over the %d MB budget", target, size_mb, SIZE_BUDGET_MB)
    log.info("wrote %s (%.1f MB, version %s)", target, size_mb, meta["version"])
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m release.export", description=__doc__)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, default=Path("model_repo"))
    p.add_argument(
        "--no-calibration",
        dest="calibrate",
        action="store_false",
        help="leave the confidence raw (skips reading the validation lines)",
    )
    p.add_argument(
        "--finder",
        type=Path,
        help="a line-finder checkpoint (python -m training.finder): the file reads pages too",
    )
    add_arguments(p, DecodeConfig, "decode.")  # default: the checkpoint's own decode config
    args = vars(p.parse_args(argv))
    checkpoint, out, calibrate = args.pop("checkpoint"), args.pop("out"), args.pop("calibrate")
    finder = args.pop("finder")
    decode = {k.removeprefix("decode."): v for k, v in args.items()}
    return run_command(log, lambda: export(checkpoint, out, decode, calibrate, finder))


if __name__ == "__main__":
    sys.exit(main())
