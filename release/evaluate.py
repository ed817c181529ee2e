"""Evaluate an exported model.pt on line datasets: `python -m release.evaluate`.

Uses only the TorchScript file (as users do) and writes model_repo/eval.json: CER and WER per
set, and their summary (the unseen-writer CER first), the figures the model card is filled from.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torchmetrics.functional.text import char_error_rate, word_error_rate

from htr.atomic import write_text
from htr.errors import DataError
from training.cli import run_command
from training.data.charset import normalize_text
from training.data.datamodule import SEED_STRIDE
from training.data.lines import LineSample
from training.data.sources import SourceConfig, load_source
from training.data.synthetic import SyntheticLines
from training.val_sets import SEEN, summary

log = logging.getLogger("release.evaluate")
REAL_VAL = "../shared/data/lines/*-val-*.tar"


def predict_all(
    model: torch.jit.ScriptModule, samples: list[LineSample], batch: int = 16
) -> list[str]:
    """Predictions in input order, batched by similar width."""
    order = sorted(range(len(samples)), key=lambda i: samples[i].image.shape[1])
    preds: dict[int, str] = {}
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            idx = order[k : k + batch]
            texts = model.predict_batch([torch.from_numpy(samples[i].image.copy()) for i in idx])
            preds.update(zip(idx, texts, strict=True))
    return [preds[i] for i in range(len(samples))]


def rates(preds: list[str], truth: list[str]) -> dict[str, float]:
    """Corpus CER and WER of `preds` against `truth` (both already normalised)."""
    return {
        "cer": round(float(char_error_rate(preds, truth)), 4),
        "wer": round(float(word_error_rate(preds, truth)), 4),
    }


def score(model: torch.jit.ScriptModule, samples: list[LineSample]) -> dict[str, Any]:
    """CER, WER and line count of the model on `samples`, with a few examples."""
    truth = [normalize_text(s.text) for s in samples]
    preds = predict_all(model, samples)
    return {
        **rates(preds, truth),
        "lines": len(samples),
        "examples": [{"truth": t, "pred": p} for t, p in list(zip(truth, preds, strict=True))[:5]],
    }


def eval_sets(synthetic: int, seed: int, extra: list[str]) -> dict[str, list[LineSample]]:
    """Synthetic test lines (the DataModule's test seed, drawn at 64 px like real lines) and
    every real validation set present."""
    sets: dict[str, list[LineSample]] = {}
    if synthetic:
        gen = SyntheticLines(seed=seed + 2 * SEED_STRIDE, length=synthetic)
        sets["synthetic-test"] = [gen[i] for i in range(synthetic)]
    folder = Path(REAL_VAL).parent
    shards = sorted(folder.glob(Path(REAL_VAL).name)) if folder.exists() else []
    if not shards:
        log.warning("no real validation shards at %s (from %s): scoring none", REAL_VAL, Path.cwd())
    # one set per name, all its shards together: copiste-val-000.tar, -001.tar, ... -> copiste-val
    names = sorted({p.name.rsplit("-", 1)[0] for p in shards})
    sources = [SourceConfig(f"{folder}/{n}-*.tar", name=n) for n in names]
    for src in sources + [SourceConfig(uri) for uri in extra]:
        sets[src.name] = load_source(src, Path("cache/data"))
    return sets


def log_summary(s: dict[str, Any]) -> None:
    """The unseen-writer CER beside the seen writer's, or which sets it lacks."""
    seen = s["seen_writer_cer"]
    others = [f"{SEEN[0]} {'absent' if seen is None else f'{100 * seen:.2f}%'} (seen writer)"]
    others += [f"{n} {100 * cer:.2f}%" for n, cer in s["beside"].items()]
    if s["unseen_writer_cer"] is None:
        log.warning(
            "unseen-writer CER not given: %s missing (it averages exactly %s); %s",
            ", ".join(s["missing"]),
            ", ".join(s["sets"]),
            "; ".join(others),
        )
        return
    log.info(
        "unseen-writer CER %.2f%% (mean of %s); %s",
        100 * s["unseen_writer_cer"],
        ", ".join(s["sets"]),
        "; ".join(others),
    )


def load_exported(model_path: Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """An exported model.pt and its config.json, or a DataError saying how to make one."""
    if not model_path.is_file():
        raise DataError(f"{model_path} does not exist; run `python -m release.export` first")
    files = {"config.json": ""}
    model = torch.jit.load(str(model_path), _extra_files=files)
    return model, json.loads(files["config.json"] or "{}")


def evaluate(
    model_path: Path,
    out: Path,
    synthetic: int = 256,
    seed: int = 0,
    extra: list[str] | None = None,
    beam: int | None = None,
) -> dict[str, Any]:
    """Score the exported model on every set and write `out` atomically; `beam` overrides the
    file's own beam width (0: best path, no LM)."""
    model, meta = load_exported(model_path)
    if beam is not None:
        model.set_beam(beam)  # raises ValueError on a negative width
    results: dict[str, Any] = {
        "model_version": meta.get("version", "?"),
        "beam": model.beam,  # the card says how its numbers were decoded
        "sets": {},
    }
    for name, samples in eval_sets(synthetic, seed, extra or []).items():
        t0 = time.perf_counter()
        results["sets"][name] = score(model, samples)
        log.info(
            "%s: CER %.2f%% WER %.2f%% on %d lines (%.0f s)",
            name,
            100 * results["sets"][name]["cer"],
            100 * results["sets"][name]["wer"],
            len(samples),
            time.perf_counter() - t0,
        )
    results["summary"] = summary({k: r["cer"] for k, r in results["sets"].items()})
    log_summary(results["summary"])
    write_text(out, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m release.evaluate", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("model_repo/model.pt"))
    p.add_argument("--out", type=Path, default=Path("model_repo/eval.json"))
    p.add_argument("--synthetic", type=int, default=256, help="synthetic test lines (0: none)")
    p.add_argument("--data", nargs="*", default=[], help="more line datasets (paths or URLs)")
    p.add_argument("--beam", type=int, help="beam width (0: best path); default: the file's own")
    args = p.parse_args(argv)
    if args.beam is not None and args.beam < 0:
        p.error(f"--beam {args.beam}: use 0 (best path, no LM) or a width of 1 or more")
    return run_command(
        log, lambda: evaluate(args.model, args.out, args.synthetic, extra=args.data, beam=args.beam)
    )


if __name__ == "__main__":
    sys.exit(main())
