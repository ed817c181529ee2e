"""The whole-page section of BENCHMARKS.md, its targets (issue #30), and the example page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from htr.atomic import write_with
from training.data.page_samples import PageSample

F1_TARGETS = {"copiste-val": 0.95, "hooker-val": 0.93}
CER_GAP = 0.02  # page CER at most this above the CER of the GT-cut lines
FIND_S = 0.5  # finding a page's lines, one thread
TWENTY_LINES_S = 1.5  # a 20-line page end to end, two cores
FINDER_MB = 10.0


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _t(target: str, value: str, met: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "met": met}


def targets(p: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the whole-page issue with the measured value and whether it is met."""
    if not p or p.get("skipped"):
        return []
    return _quality_targets(p["sets"], p["tolerance_px"]) + _speed_targets(p)


def _quality_targets(sets: dict[str, Any], tol: float) -> list[dict[str, Any]]:
    rows = []
    for name, limit in F1_TARGETS.items():
        f1 = sets[name]["f1"] if name in sets else None
        value = "not measured (set absent)" if f1 is None else f"{f1:.3f}"
        met = f1 is not None and f1 >= limit
        rows.append(_t(f"{name} baseline F1 @ {tol:g} px ≥ {limit}", value, met))
    for name, s in sets.items():
        page, cut = s["cer_ordered"], s["gt_cut_cer"]
        value = "n/a" if page is None or cut is None else f"{_pct(page)} vs {_pct(cut)}"
        if value != "n/a" and s.get("cer_annotated") is not None:
            value += f" ({_pct(s['cer_annotated'])} on annotated text)"
        met = value != "n/a" and page - cut <= CER_GAP + 1e-9
        rows.append(_t(f"{name}: page CER ≤ GT-cut CER + {100 * CER_GAP:.0f} points", value, met))
    return rows


def _speed_targets(p: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    one = p["speed"]["threads"].get("1")
    if one:
        find = one["find_s"]
        rows.append(
            _t(f"finding a page's lines ≤ {FIND_S} s (1 thread)", f"{find} s", find <= FIND_S)
        )
    twenty = p["speed"].get("twenty_lines_s")
    value = "not measured (no lines found)" if twenty is None else f"{twenty} s"
    met = twenty is not None and twenty <= TWENTY_LINES_S
    rows.append(_t(f"a 20-line page end to end ≤ {TWENTY_LINES_S} s (2 cores)", value, met))
    if p.get("finder_bytes") is not None:
        mb = p["finder_bytes"] / 1e6
        rows.append(_t(f"line finder ≤ {FINDER_MB:g} MB", f"{mb:.1f} MB", mb <= FINDER_MB))
    return rows


def section(p: dict[str, Any]) -> list[str]:
    """The markdown lines of the whole-page section."""
    out = ["", "## Whole pages", ""]
    if not p or p.get("skipped"):
        return out + [f"Not measured: {p.get('skipped') if p else 'not run'}."]
    tol = p["tolerance_px"]
    out += [
        "Each real validation page (`../shared/data/pages/*-val-*.tar`, long side ≤ 1600 px) "
        "read by the file's `find_lines` and `read_page`. Baselines: the cBAD measure "
        f"(Transkribus baseline evaluation scheme, kraken's optimal matching) at {tol:g} px: "
        f"points {p['spacing_px']:g} px apart, full credit within the tolerance, none beyond "
        "3x it; a set's P and R are the means over its pages. A GT line is found when matched "
        f"with a pair F ≥ {p['found_at_f']}. Page CER: the lines joined by newlines against "
        "the GT's (ordered), or each GT line against one found line, paired to minimise the "
        "edits (order-free). Annotated: ordered, without the found lines that score nothing "
        "against any GT line (text the GT leaves out: Copiste's printed header and page label, "
        "stamps, notes in the margin). GT-cut: the GT lines cut from their GT polygons as "
        "training cut them, read with `read_lines`. Tesseract: `--psm 3` on the page, its "
        "lines against the GT lines.",
        "",
        f"| set | pages | GT lines | baseline P / R / F1 @ {tol:g} px | lines found | page CER "
        "ordered | page CER order-free | page CER annotated | GT-cut CER "
        "| Tesseract page CER ordered / order-free |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in p["sets"].items():
        t = s["tesseract"]
        out.append(
            f"| {name} | {s['pages']} | {s['gt_lines']} "
            f"| {s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f} | {s['found']:.1%} "
            f"| {_pct(s['cer_ordered'])} | {_pct(s['cer_order_free'])} "
            f"| {_pct(s.get('cer_annotated'))} | {_pct(s['gt_cut_cer'])} "
            f"| {_pct(t['cer_ordered'])} / {_pct(t['cer_order_free'])} |"
        )
    out += _speed(p["speed"])
    if p.get("example"):
        out += ["", f"![Lines found on {p['example']['page']}]({p['example']['path']})", ""]
        out.append("Found polygons in blue, found baselines in red, GT baselines in green.")
    out += ["", "| target (issue #30) | measured | met |", "| --- | ---: | --- |"]
    out += [f"| {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |" for t in targets(p)]
    return out


def _speed(speed: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"Seconds a page, median over {speed['pages']} pages scaled to long side "
        f"{speed['side']} px (find: `find_lines`; read: `cut_lines` + `read_lines` in batches "
        f"of {speed['batch']}):",
        "",
        "| threads | find | read | total | lines (median) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, s in speed["threads"].items():
        out.append(f"| {n} | {s['find_s']} s | {s['read_s']} s | {s['total_s']} s | {s['lines']} |")
    if speed.get("twenty_lines_s") is not None:
        out += [
            "",
            f"A 20-line page end to end on {speed['twenty_lines_threads']} threads: "
            f"{speed['twenty_lines_s']} s (each page's find + read x 20 / its lines, median).",
        ]
    return out


def picture(page: PageSample, found: list, path: Path, side: int = 900) -> None:
    """The page with its found polygons and baselines, and the GT baselines to compare."""
    img = Image.fromarray(page.image).convert("RGB")
    k = min(1.0, side / max(img.size))
    img = img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(img)

    def xy(points: Any) -> list[tuple[float, float]]:
        return [(float(x) * k, float(y) * k) for x, y in np.asarray(points).reshape(-1, 2)]

    for line in page.lines:
        draw.line(xy(line.baseline), fill=(0, 160, 0), width=1)
    for polygon, baseline in found:
        if len(polygon) >= 2:
            draw.polygon(xy(polygon), outline=(40, 90, 220), width=2)
        draw.line(xy(baseline), fill=(220, 30, 30), width=2)
    small = img.quantize(colors=32)  # a palette keeps the picture small enough for the repo
    write_with(path, lambda tmp: small.save(tmp, format="PNG", optimize=True))
