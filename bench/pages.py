"""Whole pages (issue #30): the file's line finder and page reading on the real validation
pages, beside Tesseract's page mode on the same pages.

Per page: the found baselines against the GT ones (bench.page_metrics), the page CER of
`read_page` in reading order and order-free, the CER of the same GT lines cut from their GT
polygons (as training cut them) and read with `read_lines`, so the cost of finding lines
shows; and the seconds of finding and of reading at long side 1600 px on 1 and 2 threads.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench import page_metrics as pm
from bench import page_speed, report_pages
from bench.page_speed import BATCH, threads
from training.data.charset import normalize_text
from training.data.page_samples import PageSample, page_shards, read_page_shard
from training.data.pages import _crop, _degenerate

log = logging.getLogger(__name__)
PAGES = Path("../shared/data/pages")  # beside the checkout, as release.evaluate's line sets
EXAMPLE_SET = "copiste-val"
TesseractReader = Callable[[np.ndarray, str], tuple[list[str], float]]


def val_pages(folder: Path) -> dict[str, list[PageSample]]:
    """The pages of every val shard in `folder`, one set per name (copiste-val-000.tar ->
    copiste-val)."""
    sets: dict[str, list[PageSample]] = {}
    for shard in page_shards(folder, "val") if folder.is_dir() else []:
        sets.setdefault(shard.name.rsplit("-", 1)[0], []).extend(read_page_shard(shard))
    return {name: pages for name, pages in sets.items() if pages}


def reads_pages(model: Any) -> bool:
    """Whether the file holds a line finder (older files read lines only)."""
    return hasattr(model, "reads_pages") and bool(model.reads_pages())


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.copy())  # writable, as torch wants


def read_cut(model: Any, crops: list[np.ndarray]) -> list[str]:
    """`read_lines`' text of each line image, in batches of similar width."""
    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1])
    texts: dict[int, str] = {}
    with torch.inference_mode():
        for k in range(0, len(order), BATCH):
            idx = order[k : k + BATCH]
            read = model.read_lines([_tensor(crops[i]) for i in idx])
            texts.update(zip(idx, (line[0] for line in read), strict=True))
    return [texts[i] for i in range(len(crops))]


def gt_cut(model: Any, page: PageSample) -> tuple[int, int, int]:
    """(edits, characters, lines) of the page's transcribed GT lines cut from their GT
    polygons and read with `read_lines` in batches of 32."""
    h, w = page.image.shape
    keep = [
        ln for ln in page.lines if normalize_text(ln.text) and not _degenerate(ln.polygon, w, h)
    ]
    read = read_cut(model, [_crop(page.image, ln.polygon) for ln in keep])
    edits = sum(
        pm.levenshtein(normalize_text(t), normalize_text(ln.text))
        for t, ln in zip(read, keep, strict=True)
    )
    return edits, sum(len(normalize_text(ln.text)) for ln in keep), len(keep)


def score_page(model: Any, page: PageSample, tol: float) -> dict[str, Any]:
    """One page: its found baselines against GT, and its read text in order and order-free."""
    x = _tensor(page.image)
    gt_base = [ln.baseline for ln in page.lines]
    with torch.inference_mode():
        found = model.find_lines(x)
        read = model.read_page(x)
    base = pm.baseline_page([b.numpy() for _, b in found], gt_base, tol)
    truth = [normalize_text(ln.text) for ln in page.lines]
    blank = {g for g, t in enumerate(truth) if not t}
    drop: set[int] = set()
    if blank:  # a found line on an untranscribed GT line has no truth to be scored against
        pairs = pm.baseline_page([line[1].numpy() for line in read], gt_base, tol)["pairs"]
        drop = {h for h, g, f in pairs if g in blank and f >= pm.FOUND_F}
    texts = [normalize_text(line[2]) for i, line in enumerate(read) if i not in drop]
    # text the GT leaves out (Copiste's printed header, stamps, page labels): found lines
    # nowhere near (3x the tolerance) an annotated line
    off = _off_annotation([line[1].numpy() for line in read], gt_base, tol) | drop
    annotated = [normalize_text(line[2]) for i, line in enumerate(read) if i not in off]
    truth = [t for t in truth if t]
    edits, chars, lines = gt_cut(model, page)
    return {
        "key": page.key,
        "baselines": {k: v for k, v in base.items() if k != "pairs"},
        "ordered": pm.cer_ordered(texts, truth),
        "order_free": pm.cer_order_free(texts, truth),
        "annotated": pm.cer_ordered(annotated, truth),
        "gt_cut": (edits, chars),
        "gt_cut_lines": lines,
    }


def _off_annotation(hyp: list[np.ndarray], gt: list, tol: float) -> set[int]:
    """Found lines that score nothing against any GT baseline."""
    if not hyp or not gt:
        return set(range(len(hyp)))
    prec, rec = pm.pair_scores(hyp, gt, tol)
    return {h for h in range(len(hyp)) if not (prec[h] > 0).any()}


def tesseract_page(image: np.ndarray, lang: str) -> tuple[list[str], float]:
    """Tesseract's text lines of a whole page (`--psm 3`, automatic page segmentation) and
    the seconds of its call, on one thread."""
    with tempfile.TemporaryDirectory(prefix="tess-page-") as tmp:
        path = Path(tmp) / "page.png"
        Image.fromarray(image).save(path)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        t0 = time.perf_counter()
        cmd = ["tesseract", str(path), "stdout", "--psm", "3", "-l", lang]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"tesseract failed on a page: {proc.stderr.strip()[-300:]}")
    return [normalize_text(t) for t in proc.stdout.splitlines() if normalize_text(t)], seconds


def page_lang(page: PageSample) -> str:
    """Tesseract's language for a page: its provenance's (fra, eng), else both."""
    lang = page.meta.get("lang", "")
    return lang if lang in ("fra", "eng") else "eng+fra"


def tesseract_set(pages: list[PageSample], jobs: int, reader: TesseractReader) -> dict[str, Any]:
    """Tesseract's page CERs (its lines against the GT lines) and median seconds a page."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda p: reader(p.image, page_lang(p)), pages))
    ordered, free = [0, 0], [0, 0]
    for page, (lines, _) in zip(pages, done, strict=True):
        truth = [t for ln in page.lines if (t := normalize_text(ln.text))]
        for total, (e, c) in (
            (ordered, pm.cer_ordered(lines, truth)),
            (free, pm.cer_order_free(lines, truth)),
        ):
            total[0] += e
            total[1] += c
    return {
        "cer_ordered": _round(pm.rate(*ordered)),
        "cer_order_free": _round(pm.rate(*free)),
        "seconds_per_page": round(statistics.median(s for _, s in done), 2) if done else None,
    }


def summarise(scored: list[dict[str, Any]], tess: dict[str, Any], lang: str) -> dict[str, Any]:
    """A set's row: baseline P/R/F1 and lines found, and its page and GT-cut CERs."""
    base = pm.baseline_set([s["baselines"] for s in scored])

    def cer(key: str) -> float | None:
        return _round(pm.rate(sum(s[key][0] for s in scored), sum(s[key][1] for s in scored)))

    return {
        "pages": len(scored),
        "gt_lines": sum(s["baselines"]["gt"] for s in scored),
        "found_lines": sum(s["baselines"]["hyp"] for s in scored),
        **{k: round(v, 4) for k, v in base.items()},
        "cer_ordered": cer("ordered"),
        "cer_order_free": cer("order_free"),
        "cer_annotated": cer("annotated"),
        "gt_cut_cer": cer("gt_cut"),
        "gt_cut_lines": sum(s["gt_cut_lines"] for s in scored),
        "lang": lang,
        "tesseract": tess,
        "per_page": [
            {"key": s["key"], **{k: round(v, 4) for k, v in s["baselines"].items()}} for s in scored
        ],
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def run(
    model: Any,
    out_dir: Path,
    jobs: int,
    folder: Path = PAGES,
    tol: float = pm.TOLERANCE,
    reader: TesseractReader = tesseract_page,
) -> dict[str, Any]:
    """The whole-page section of the results; `skipped` says why when it cannot be measured."""
    if not reads_pages(model):
        return _skipped("the model file reads lines only (no `reads_pages()`, or it is false)")
    sets = val_pages(folder)
    if not sets:
        return _skipped(f"no val page shards at {folder} (from {Path.cwd()})")
    return measure(model, sets, out_dir, jobs, tol, reader)


def _skipped(reason: str) -> dict[str, Any]:
    log.warning("whole pages not measured: %s", reason)
    return {"skipped": reason}


def measure(
    model: Any,
    sets: dict[str, list[PageSample]],
    out_dir: Path,
    jobs: int,
    tol: float,
    reader: TesseractReader,
) -> dict[str, Any]:
    """Every set's row, the speed over all their pages, the finder's size and the picture."""
    r: dict[str, Any] = {"skipped": None, "tolerance_px": tol, "spacing_px": pm.SPACING}
    r |= {"found_at_f": pm.FOUND_F, "sets": {}}
    for name, pages in sets.items():
        with threads(jobs):
            scored = [score_page(model, page, tol) for page in pages]
        tess = tesseract_set(pages, jobs, reader)
        r["sets"][name] = row = summarise(scored, tess, page_lang(pages[0]))
        log.info(
            "%s (%d pages): baseline F1 %.3f, page CER %s (GT-cut %s), Tesseract %s",
            name,
            len(pages),
            row["f1"],
            row["cer_ordered"],
            row["gt_cut_cer"],
            tess["cer_ordered"],
        )
    r["speed"] = page_speed.speed(model, [p.image for pages in sets.values() for p in pages])
    r["finder_bytes"] = page_speed.finder_bytes(model)
    page = (sets.get(EXAMPLE_SET) or next(iter(sets.values())))[0]
    with threads(jobs), torch.inference_mode():
        found = model.find_lines(_tensor(page.image))
    report_pages.picture(page, found, out_dir / "bench" / "page_example.png")
    r["example"] = {"path": "bench/page_example.png", "page": page.key}
    return r
