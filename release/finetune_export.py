"""A fine-tuned network written as a model file, through export's check (release.export.verify).

The new file keeps everything of the published one but the weights: its character set, LM
tables, decoding settings, confidence calibration and line finder, and its config.json gains a
`finetune` entry (from which version, on how many lines) and a version of its own, so that
`python -m release.publish` publishes it like any other export.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from htr.atomic import write_text, write_with
from recognizer.network import Recognizer
from recognizer.predictor import LinePredictor
from release.export import SIZE_BUDGET_MB, git_commit, verify
from release.finder_export import verify_pages
from training.finetune import Published, Result

log = logging.getLogger("release.finetune_export")
CALIBRATION = ("calib_line_x", "calib_line_y", "calib_word_x", "calib_word_y")


def weights_digest(model: Recognizer) -> str:
    """SHA-256 of the network's weights, in state-dict order."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def finetuned_meta(pub: Published, result: Result, lines: str) -> dict[str, Any]:
    """The base file's config.json with the fine-tuning recorded and a version of its own."""
    meta = dict(pub.meta)
    base = str(pub.scripted.version)
    digest = weights_digest(result.model)[:6]
    meta["finetune"] = {
        "base_version": base,
        "base_git_commit": meta.get("git_commit", "unknown"),
        "base_metrics": meta.pop("metrics", {}),  # the base's figures, not this file's
        "lines": lines,
        "train_lines": result.train_lines,
        "held_out_lines": result.held_out_lines,
        "steps": result.steps,
        "best_step": result.best_step,
        "seconds": round(result.seconds, 1),
        "held_out_cer": result.history,
    }
    meta["metrics"] = {}
    meta["git_commit"] = git_commit()
    meta["version"] = f"{base}-ft{result.train_lines + result.held_out_lines}-{digest}"
    return meta


def _decode(scripted: torch.jit.ScriptModule) -> tuple[int, int, int, float, float, float]:
    s = scripted
    return (
        int(s.beam),
        int(s.lm_order),
        int(s.top_k),
        float(s.alpha),
        float(s.beta),
        float(s.prune),
    )


def finetuned_predictor(
    pub: Published, model: Recognizer, meta: dict[str, Any], finder: Any = None
) -> LinePredictor:
    """The serving module of the tuned network with everything else of the published file
    (its line finder too, unless `finder` replaces it)."""
    s = pub.scripted
    eager = LinePredictor(
        model,
        "".join(s.chars),
        int(s.height),
        int(s.stride),
        int(s.max_width),
        json.dumps(meta, ensure_ascii=False, indent=2),
        meta["version"],
        lm=(s.lm_keys.clone(), s.lm_values.clone()),
        decode=_decode(s),
        crop=bool(s.crop),
        x_scale=float(s.x_scale),
        bf16=bool(getattr(s, "bf16", False)),
        # already scripted: the published finder travels as it is
        finder=finder if finder is not None else getattr(s, "finder", None),
    )
    names = dict(s.named_buffers())
    for name in CALIBRATION:  # files older than calibration have none: uncalibrated
        if name in names:
            setattr(eager, name, names[name].clone())
    return eager


def write_finetuned(pub: Published, result: Result, out_dir: Path, lines: str) -> Path:
    """Script, verify against the eager module, warm and write model.pt and config.json."""
    meta = finetuned_meta(pub, result, lines)
    return write_checked(finetuned_predictor(pub, result.model, meta), out_dir)


def write_checked(eager: LinePredictor, out_dir: Path) -> Path:
    """Script `eager`, verify it (lines, and pages with a finder), warm it and write model.pt
    and config.json atomically."""
    meta = json.loads(eager.meta_json)
    scripted = torch.jit.script(eager)
    verify(eager, scripted)
    if eager.finder is not None:
        verify_pages(eager, scripted)
    scripted.warmup()
    meta_json = eager.meta_json
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "model.pt"
    write_with(
        target, lambda p: torch.jit.save(scripted, str(p), _extra_files={"config.json": meta_json})
    )
    write_text(out_dir / "config.json", meta_json + "\n")
    size_mb = target.stat().st_size / 2**20
    if size_mb > SIZE_BUDGET_MB:
        log.warning("%s is %.1f MB, over the %d MB budget", target, size_mb, SIZE_BUDGET_MB)
    log.info("wrote %s (%.1f MB, version %s)", target, size_mb, meta["version"])
    return target
