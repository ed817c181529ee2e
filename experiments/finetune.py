"""How much fine-tuning on 50 lines of a new document helps on its other lines.

`python -m experiments.finetune`: for each held-out document of at least --min-lines lines in
the real line shards of sources the published model never trained on, fine-tune the model on
the document's first 50 lines (`release.finetune`'s code path, file written and checked), and
score its remaining lines before and after with each file's own decoding (LM beam search, as
`release.evaluate` does). Writes experiments/finetune.json; the write-up is finetune.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from htr.atomic import write_text
from release.evaluate import predict_all, rates
from release.finetune_export import write_finetuned
from training.data.charset import normalize_text
from training.data.lines import LineSample
from training.data.webdataset import load_shard
from training.finetune import FinetuneConfig, finetune, load_published

log = logging.getLogger("experiments.finetune")
MODEL = Path("../shared/models/htr-line-recognizer/model.pt")
LINES = Path("../shared/data/lines")
# Val shards first: their documents are held out from every training run of the project; the
# train shards of sources the model never saw hold the other documents it cannot know.
SHARDS = (
    "poilus-val",
    "cremma19-val",
    "cremma18-val",
    "lectaurep-val",
    "cremma20-train",
    "lectaurep-train",
    "poilus-train",
    "cremma19-train",
    "cremma18-train",
)


def documents(
    seen: set[str], min_lines: int, per_shard: int, shards: tuple[str, ...] | None = None
) -> list[tuple[str, str, list[LineSample]]]:
    """(shard, document, lines in shard order) of the largest documents of unseen sources."""
    found = []
    for name in shards or SHARDS:
        if name.split("-")[0] in seen or not (LINES / f"{name}-000.tar").exists():
            continue
        by_doc: dict[str, list[LineSample]] = defaultdict(list)
        for s in load_shard(LINES / f"{name}-000.tar"):
            by_doc[s.doc].append(s)
        big = sorted(
            (d for d in by_doc if len(by_doc[d]) >= min_lines), key=lambda d: -len(by_doc[d])
        )
        found += [(name, d, by_doc[d]) for d in big[:per_shard]]
    return found


def _rates(preds: list[str], truth: list[str], keep: list[bool]) -> dict[str, Any] | None:
    """CER and WER of the lines where `keep` holds, and their count (None for none)."""
    p = [x for x, k in zip(preds, keep, strict=True) if k]
    t = [x for x, k in zip(truth, keep, strict=True) if k]
    return {"lines": len(p), **rates(p, t)} if p else None


def one_document(
    model: Path, lines: list[LineSample], first: int, ft: FinetuneConfig, out: Path
) -> dict[str, Any]:
    """Before/after scores of one document's lines after `first`, and the fine-tune's cost;
    also apart for the lines on the pages the first lines came from and on the other pages."""
    pub = load_published(model)
    rest = lines[first:]
    truth = [normalize_text(s.text) for s in rest]
    before = predict_all(pub.scripted, rest)
    t0 = time.perf_counter()
    result = finetune(pub, lines[:first], ft)
    path = write_finetuned(pub, result, out, f"first {first} lines")
    total = time.perf_counter() - t0
    after = predict_all(torch.jit.load(str(path)), rest)
    seen = {s.meta.get("page") for s in lines[:first]}
    on_seen = [s.meta.get("page") in seen for s in rest]
    b, a = rates(before, truth), rates(after, truth)
    return {
        "train_lines": result.train_lines,
        "held_out_lines": result.held_out_lines,
        "scored_lines": len(rest),
        "before": b,
        "after": a,
        "relative_cer_cut": round((b["cer"] - a["cer"]) / b["cer"], 4) if b["cer"] else 0.0,
        "pages_of_the_first_lines": {
            "before": _rates(before, truth, on_seen),
            "after": _rates(after, truth, on_seen),
        },
        "other_pages": {
            "before": _rates(before, truth, [not x for x in on_seen]),
            "after": _rates(after, truth, [not x for x in on_seen]),
        },
        "steps": result.steps,
        "best_step": result.best_step,
        "learning_minutes": round(result.seconds / 60, 2),
        "minutes_with_export": round(total / 60, 2),
        "held_out_cer": result.history,
        "examples": [
            {"truth": t, "before": x, "after": y}
            for t, x, y in list(zip(truth, before, after, strict=True))[:3]
        ],
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over documents: CER before and after, the relative cut, the minutes."""
    n = len(rows)
    mean = lambda key: round(sum(key(r) for r in rows) / n, 4) if n else None  # noqa: E731
    return {
        "documents": n,
        "mean_cer_before": mean(lambda r: r["before"]["cer"]),
        "mean_cer_after": mean(lambda r: r["after"]["cer"]),
        "mean_relative_cer_cut": mean(lambda r: r["relative_cer_cut"]),
        "documents_cut_40pct": sum(r["relative_cer_cut"] >= 0.4 for r in rows),
        "mean_learning_minutes": mean(lambda r: r["learning_minutes"]),
        "max_minutes_with_export": max((r["minutes_with_export"] for r in rows), default=None),
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.finetune", description=__doc__)
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--first", type=int, default=50, help="lines fine-tuned on, per document")
    p.add_argument("--min-lines", type=int, default=80, help="smallest document used")
    p.add_argument("--per-shard", type=int, default=1, help="largest documents per shard")
    p.add_argument("--shards", default=",".join(SHARDS), help="comma-separated shard names")
    p.add_argument("--docs", type=int, default=6, help="documents at most")
    p.add_argument("--minutes", type=float, default=FinetuneConfig.minutes)
    p.add_argument("--steps", type=int, default=FinetuneConfig.steps)
    p.add_argument("--lr", type=float, default=FinetuneConfig.lr)
    p.add_argument("--out", type=Path, default=Path("experiments/finetune.json"))
    p.add_argument("--append", action="store_true", help="add documents to --out's report")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the study and write its JSON (after each document, so a cut-short run keeps some)."""
    a = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(2)  # the target: 2 CPU cores
    meta = load_published(a.model).meta
    seen = {s["name"] for s in meta.get("data_sources", [])}
    ft = FinetuneConfig(steps=a.steps, minutes=a.minutes, lr=a.lr)
    report: dict[str, Any] = {
        "model": str(a.model),
        "model_version": meta["version"],
        "sources_the_model_trained_on": sorted(seen),
        "first_lines": a.first,
        "finetune": ft.__dict__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "documents": [],
    }
    if a.append and a.out.exists():
        report["documents"] = json.loads(a.out.read_text(encoding="utf-8"))["documents"]
    done = {(r["shard"], r["document"]) for r in report["documents"]}
    found = documents(seen, a.min_lines, a.per_shard, tuple(a.shards.split(",")))
    docs = [d for d in found if d[:2] not in done][: a.docs]
    with tempfile.TemporaryDirectory() as tmp:
        for shard, doc, lines in docs:
            log.info("%s %s: %d lines (load %.1f)", shard, doc, len(lines), os.getloadavg()[0])
            row = {"shard": shard, "document": doc, "lines": len(lines)}
            row |= one_document(a.model, lines, a.first, ft, Path(tmp) / "model")
            row["load_average"] = round(os.getloadavg()[0], 1)
            report["documents"].append(row)
            report["summary"] = summarise(report["documents"])
            write_text(a.out, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
            log.info("%s: CER %s -> %s", doc, row["before"]["cer"], row["after"]["cer"])
    log.info("summary: %s", json.dumps(report.get("summary")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
