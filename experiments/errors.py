"""Where an exported model's errors are: `python -m experiments.errors`.

Aligns each prediction with its transcription (Levenshtein, one alignment per line) and counts
substitutions, deletions and insertions per validation set, the most frequent confusions, and
the CER once case and punctuation are ignored (if that is far lower, the errors are
conventions, not letters), the CER of each document (are a few of them most of a set's
errors?) and by pixels of line width per character (lines cut by their polygons are zoomed:
wide for their text). `--band N` also reads N of each set's ordinary lines cut to a band of
their rows by `cut_band` (is that what the zoomed lines look like to the model?).
Best-path decoding by default (`--beam` for the LM search).
Writes experiments/errors.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchmetrics.functional.text import char_error_rate

from htr.atomic import write_text
from recognizer.preprocess import MAX_WIDTH, crop_to_ink
from release.evaluate import eval_sets, load_exported, predict_all
from training.cli import run_command
from training.data.charset import normalize_text
from training.data.lines import LineSample

log = logging.getLogger("experiments.errors")
Op = tuple[str, str, str]  # (kind S | D | I, truth character, predicted character)
# Pixels of a 64-px line's width per character of its text: bucket edges. The median Hooker
# line has 16.6; past 24 his are mostly lines zoomed from a band cut by their polygon
# (Copiste's are wide writing).
WIDTH_EDGES = (12, 16, 20, 24, 32)
ZOOMED = 24


def edit_ops(truth: str, pred: str) -> list[Op]:
    """The edits of one minimal alignment turning `truth` into `pred`."""
    n, m = len(truth), len(pred)
    d = [list(range(m + 1))] + [[i] + [0] * m for i in range(1, n + 1)]  # (n+1, m+1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = d[i - 1][j - 1] + (truth[i - 1] != pred[j - 1])
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, sub)
    ops: list[Op] = []
    i, j = n, m
    while i or j:  # walk back, preferring a (mis)match, then a deletion, then an insertion
        if i and j and d[i][j] == d[i - 1][j - 1] + (truth[i - 1] != pred[j - 1]):
            if truth[i - 1] != pred[j - 1]:
                ops.append(("S", truth[i - 1], pred[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(("D", truth[i - 1], ""))
            i -= 1
        else:
            ops.append(("I", "", pred[j - 1]))
            j -= 1
    return ops[::-1]


def letters_only(text: str) -> str:
    """Lower case, letters, digits and single spaces: what is left without case or punctuation."""
    return re.sub(r" +", " ", re.sub(r"[^\w ]|_", "", text.lower())).strip()


def align(truths: list[str], preds: list[str]) -> list[list[Op]]:
    """The edit operations of each line: computed once, read by `tally` and `by_document`."""
    return [edit_ops(t, p) for t, p in zip(truths, preds, strict=True)]


def tally(
    truths: list[str], preds: list[str], top: int = 25, ops: list[list[Op]] | None = None
) -> dict[str, Any]:
    """Edit counts and rates, the `top` confusions, and the case/punctuation-blind CER."""
    kinds: Counter[str] = Counter()
    confusions: Counter[Op] = Counter()
    blind_errors = blind_chars = 0
    for t, p, line in zip(truths, preds, align(truths, preds) if ops is None else ops, strict=True):
        kinds.update(op[0] for op in line)
        confusions.update(line)
        lt, lp = letters_only(t), letters_only(p)
        blind_errors += len(edit_ops(lt, lp))
        blind_chars += len(lt)
    chars = sum(map(len, truths))
    return {
        "chars": chars,
        "lines": len(truths),
        "cer": round(sum(kinds.values()) / max(chars, 1), 4),
        "substitutions": kinds["S"],
        "deletions": kinds["D"],
        "insertions": kinds["I"],
        "cer_without_case_and_punctuation": round(blind_errors / max(blind_chars, 1), 4),
        "top_confusions": [
            {"kind": k, "truth": t, "pred": p, "count": c}
            for (k, t, p), c in confusions.most_common(top)
        ],
    }


def by_document(
    docs: list[str], truths: list[str], preds: list[str], ops: list[list[Op]] | None = None
) -> list[dict[str, Any]]:
    """CER per document, the documents with the most errors first: where a set's errors are."""
    errs: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for d, t, line in zip(docs, truths, align(truths, preds) if ops is None else ops, strict=True):
        errs[d] += len(line)
        chars[d] += len(t)
        lines[d] += 1
    total = max(sum(errs.values()), 1)
    return [
        {
            "doc": d,
            "lines": lines[d],
            "chars": chars[d],
            "cer": round(errs[d] / max(chars[d], 1), 4),
            "share_of_errors": round(errs[d] / total, 4),
        }
        for d in sorted(chars, key=lambda d: (-errs[d], d))
    ]


def px_per_char(sample: LineSample, truth: str) -> float:
    """Width of the line scaled to 64 px high, per character of its transcription."""
    h, w = sample.image.shape[:2]
    return w * 64 / h / max(len(truth), 1)


def by_width(widths: list[float], truths: list[str], ops: list[list[Op]]) -> list[dict[str, Any]]:
    """CER by pixels of width per character (`WIDTH_EDGES` buckets), narrowest first."""
    edges = (0, *WIDTH_EDGES, float("inf"))
    total = max(sum(map(len, ops)), 1)
    rows = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        idx = [i for i, w in enumerate(widths) if lo <= w < hi]
        errs, chars = sum(len(ops[i]) for i in idx), sum(len(truths[i]) for i in idx)
        rows.append(
            {
                "px_per_char": f"{lo}-{hi}",
                "lines": len(idx),
                "chars": chars,
                "cer": round(errs / chars, 4) if chars else None,  # None: no line, not 0%
                "share_of_errors": round(errs / total, 4),
            }
        )
    return rows


def cut_band(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A band of 30-60% of a (H, W) uint8 line's rows, zoomed back to H rows (and wider)."""
    h, w = img.shape
    band = min(h, max(2, int(round(h * rng.uniform(0.3, 0.6)))))
    lowest = int(0.1 * h)  # the band starts below the top tenth: ascenders are what is lost
    top = int(rng.integers(lowest, h - band + 1)) if h - band >= lowest else 0
    width = min(MAX_WIDTH, max(8, int(round(w * h / band))))
    rows = Image.fromarray(np.ascontiguousarray(img[top : top + band]))
    return np.asarray(rows.resize((width, h), Image.Resampling.BILINEAR))


def banded(samples: list[LineSample], seed: int = 0) -> list[LineSample]:
    """`samples` cropped to their ink, then cut to a band of their rows (`cut_band`)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in samples:
        ink = crop_to_ink(torch.from_numpy(np.asarray(s.image, np.float32)))
        cut = cut_band(ink.round().clamp(0, 255).to(torch.uint8).numpy(), rng)
        out.append(LineSample(cut, s.text, doc=s.doc))
    return out


def band_check(
    model: torch.jit.ScriptModule, samples: list[LineSample], widths: list[float], n: int
) -> dict[str, Any]:
    """CER of a set's zoomed lines, of `n` of its other lines, and of those `n` cut;
    `widths`: each line's `px_per_char`."""
    zoomed = [s for s, w in zip(samples, widths, strict=True) if w >= ZOOMED]
    ordinary = [s for s, w in zip(samples, widths, strict=True) if w < ZOOMED]
    pick = [ordinary[i] for i in sorted(np.random.default_rng(0).permutation(len(ordinary))[:n])]

    def cer(lines: list[LineSample]) -> float | None:
        if not lines:
            return None
        preds = predict_all(model, lines)
        return round(float(char_error_rate(preds, [normalize_text(s.text) for s in lines])), 4)

    return {
        "zoomed_lines": len(zoomed),
        "zoomed_cer": cer(zoomed),
        "ordinary_lines": len(pick),
        "ordinary_cer": cer(pick),
        "ordinary_cut_cer": cer(banded(pick)),
    }


def run(
    model_path: Path, out: Path, beam: int = 0, synthetic: int = 0, band: int = 0
) -> dict[str, Any]:
    """Tally the errors of the model on every validation set and write `out` atomically."""
    model, meta = load_exported(model_path)
    model.set_beam(beam)
    results: dict[str, Any] = {
        "model": str(model_path),
        "version": meta.get("version", "?"),
        "beam": beam,
        "sets": {},
    }
    for name, samples in eval_sets(synthetic, 0, []).items():
        truths = [normalize_text(s.text) for s in samples]
        preds = predict_all(model, samples)
        ops = align(truths, preds)
        r = tally(truths, preds, ops=ops)
        r["documents"] = by_document([s.doc for s in samples], truths, preds, ops)
        widths = [px_per_char(s, t) for s, t in zip(samples, truths, strict=True)]
        r["by_px_per_char"] = by_width(widths, truths, ops)
        if band and not name.startswith("synthetic"):
            r["band"] = band_check(model, samples, widths, band)
            log.info("%s: zoomed lines and ordinary ones cut to a band: %s", name, r["band"])
        results["sets"][name] = r
        log.info(
            "%s: CER %.1f%%: %d substitutions, %d deletions, %d insertions in %d characters; "
            "without case and punctuation %.1f%%",
            name,
            100 * r["cer"],
            r["substitutions"],
            r["deletions"],
            r["insertions"],
            r["chars"],
            100 * r["cer_without_case_and_punctuation"],
        )
    write_text(out, json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m experiments.errors", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("model_repo/model.pt"))
    p.add_argument("--out", type=Path, default=Path("experiments/errors.json"))
    p.add_argument("--beam", type=int, default=0, help="0: best path; 6: the LM default")
    p.add_argument("--synthetic", type=int, default=0, help="synthetic test lines too")
    p.add_argument("--band", type=int, default=0, help="ordinary lines per set to cut (0: none)")
    args = p.parse_args(argv)
    if args.band < 0:
        p.error(f"--band {args.band}: give a number of lines, 0 or more")
    return run_command(log, lambda: run(args.model, args.out, args.beam, args.synthetic, args.band))


if __name__ == "__main__":
    sys.exit(main())
