"""BENCHMARKS.md and the example picture, from the results dictionary of `python -m bench`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bench import report_pages
from bench.quality import Example
from htr.atomic import write_with

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # fonts-dejavu-core: accents render
TARGETS = {"copiste-val": 0.09, "hooker-val": 0.20}  # real validation CER, full preset, 2 h
UNSEEN_TARGET = 0.15  # the unseen-writer CER (training.val_sets), full preset, 2 h
ECE_TARGET = 0.05  # expected calibration error of the line confidence on each real set


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the benchmark issue with the measured value and whether it is met."""
    rows = []
    for name, limit in TARGETS.items():
        row = r["quality"].get(name)
        value = f"{row['ours']['cer']:.1%}" if row else "not measured (set absent)"
        rows.append(
            _t(f"{name} CER ≤ {limit:.0%}", value, bool(row) and row["ours"]["cer"] <= limit)
        )
    unseen = r.get("summary", {}).get("unseen_writer_cer")
    value = f"{unseen:.1%}" if unseen is not None else "not measured (sets absent)"
    met = unseen is not None and unseen <= UNSEEN_TARGET
    rows.insert(0, _t(f"unseen-writer CER ≤ {UNSEEN_TARGET:.0%}", value, met))
    for name, row in r["quality"].items():
        met = row["tesseract"]["cer"] >= 4 * row["ours"]["cer"]  # unrounded: cer_ratio is rounded
        rows.append(_t(f"{name}: CER ≥ 4x lower than Tesseract", f"{row['cer_ratio']}x", met))
    rows += _calibration_targets(r.get("calibration", {}))
    p50 = r["latency"]["ours"]["p50_ms"]
    rows.append(_t("predict p50 ≤ 20 ms (64x1024, 1 thread)", f"{p50} ms", p50 <= 20))
    if "ours_best_path" in r["latency"]:
        p50 = r["latency"]["ours_best_path"]["p50_ms"]
        rows.append(_t("the same, best-path decoding (`set_beam(0)`)", f"{p50} ms", p50 <= 20))
    cold = r["cold_start"]["ours_s"]
    rows.append(_t("Lambda cold start ≤ 3 s", f"{cold} s", cold <= 3))
    mb = r["size"]["ours_bytes"] / 1e6
    rows.append(_t("exported file ≤ 20 MB", f"{mb:.1f} MB", mb <= 20))
    return rows


def _calibration_targets(calib: dict[str, Any]) -> list[dict[str, Any]]:
    raw = "" if calib.get("calibrated") else " (raw score, uncalibrated)"
    rows = []
    for name, c in calib.get("sets", {}).items():
        value = "no held-out lines" if c["ece"] is None else f"{c['ece']:.3f}{raw}"
        met = c["ece"] is not None and c["ece"] <= ECE_TARGET
        rows.append(_t(f"{name}: confidence ECE ≤ {ECE_TARGET}", value, met))
    return rows


def _calibration(calib: dict[str, Any]) -> list[str]:
    if not calib.get("sets"):
        return []
    out = [
        "",
        "## Confidence calibration",
        "",
        f"A line's confidence is the probability that it is read with {calib['event']} "
        "(`read_lines`; the served `confidences`), fitted at export by isotonic regression on "
        "the tuning half of the validation documents; a word's, that it is exactly right. "
        "Measured on the lines of each real set whose documents the calibration did not read. "
        f"ECE: the line-weighted mean |confidence − frequency| over {calib['bins']} bins; "
        f"target ECE ≤ {ECE_TARGET}.",
    ]
    if not calib["calibrated"]:
        out += ["", "**This file carries no calibration**: the figures are its raw score's."]
    out += [
        "",
        f"| set | lines | mean confidence | read with {calib['event']} | ECE | words | word ECE |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, c in calib["sets"].items():
        conf, freq, ece, wece = (
            "n/a" if v is None else f"{v:.3f}"
            for v in (c["confidence"], c["frequency"], c["ece"], c["word_ece"])
        )
        out.append(f"| {name} | {c['lines']} | {conf} | {freq} | {ece} | {c['words']} | {wece} |")
    return out + ["", "![Reliability of the line confidence](bench/calibration.png)"]


def _best_path(lat: dict[str, Any]) -> list[str]:
    if "ours_best_path" not in lat:
        return []
    b = lat["ours_best_path"]
    return [
        f"| latency p50 / p95, best-path decoding instead of the LM beam search "
        f"(`model.set_beam(0)`) | {b['p50_ms']} / {b['p95_ms']} ms | |"
    ]


def _t(target: str, value: str, met: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "met": met}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(r: dict[str, Any]) -> str:
    """The human-readable report."""
    m, mc, lat, thr = r["model"], r["machine"], r["latency"], r["throughput"]
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {r['date']} (git {r['git_commit']}), in {r['seconds']:.0f} s.",
        f"Machine: {mc['cores']} cores, {mc['cpu']}; torch {mc['torch']}.",
        f"Model: `{m['version']}` (preset `{m['preset']}`), {m['source']} at revision "
        f"`{m['revision']}`. Peer: Tesseract {r['tesseract']['version']}, "
        f"`-l {r['tesseract']['langs']} --psm 7`, on exactly the same line images.",
        "",
        "## Recognition quality",
        "",
        "| set | lines | CER ours | CER Tesseract | ratio | WER ours | WER Tesseract |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, q in r["quality"].items():
        o, t = q["ours"], q["tesseract"]
        out.append(
            f"| {name} | {q['lines']} | {_pct(o['cer'])} | {_pct(t['cer'])} | {q['cer_ratio']}x "
            f"| {_pct(o['wer'])} | {_pct(t['wer'])} |"
        )
    out += _summary(r.get("summary", {}), r["quality"])
    out += ["", "![Example lines](bench/examples.png)"] + _calibration(r.get("calibration", {}))
    out += ["", "## Speed and size", ""]
    out += [
        "| measure | ours | Tesseract |",
        "| --- | ---: | ---: |",
        f"| latency p50, the real line nearest {lat['shape'][0]}x{lat['shape'][1]} in "
        f"proportions, scaled to it, batch 1, "
        f"1 thread (Tesseract: one CLI call, loading eng+fra each time) "
        f"| {lat['ours']['p50_ms']} ms | {lat['tesseract']['p50_ms']} ms |",
        f"| latency p95 (same runs) | {lat['ours']['p95_ms']} ms "
        f"| {lat['tesseract']['p95_ms']} ms |",
        *_best_path(lat),
        f"| throughput, {thr['lines']} lines of every set on {thr['threads']} cores (ours: batches "
        f"of 16; Tesseract: {thr['threads']} processes) "
        f"| {thr['ours_lines_per_s']} lines/s | {thr['tesseract_lines_per_s']} lines/s |",
        f"| cold start: fresh process to first answer (ours: Lambda handler) "
        f"| {r['cold_start']['ours_s']} s | {r['cold_start']['tesseract_s']} s |",
        f"| model files on disk | {r['size']['ours_bytes'] / 1e6:.1f} MB "
        f"| {r['size']['tesseract_bytes'] / 1e6:.1f} MB (eng+fra) |",
    ]
    for preset, lps in r["training"].items():
        value = f"{lps} lines/s" if isinstance(lps, float) else str(lps)
        out.append(
            f"| training, `{preset}` preset, {r['machine']['cores']} cores "
            f"({r['train_steps']}-step probe, one run) | {value} | n/a (not trainable) |"
        )
    out += _lambda(r["lambda_load"]) + _runs(r["runs"]) + report_pages.section(r.get("pages", {}))
    out += ["", "## Targets", "", "| target | measured | met |"]
    out.append("| --- | ---: | --- |")
    out += [
        f"| {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |" for t in r["targets"]
    ]
    out += [
        "",
        "Latency, throughput and cold start are medians of several runs after a warm-up, with "
        "Tesseract timed in the same invocation, interleaved with our model. The Lambda table "
        "is one pass of each level; the training probes are one short run each.",
        "",
    ]
    return "\n".join(out)


def _summary(summary: dict[str, Any], quality: dict[str, Any]) -> list[str]:
    """The headline: CER on writers the model never saw, beside the writer it trained on."""
    sets = summary.get("sets", [])
    if summary.get("unseen_writer_cer") is None:
        missing = ", ".join(summary.get("missing", sets)) or "the real val sets"
        return ["", f"Unseen-writer CER: not measured ({missing} absent)."]
    tess = sum(quality[s]["tesseract"]["cer"] for s in sets) / len(sets)
    seen = summary.get("seen_writer_cer")
    line = (
        f"**Unseen-writer CER** (the mean over {', '.join(sets)}): "
        f"**{_pct(summary['unseen_writer_cer'])}** (Tesseract {_pct(tess)})"
    )
    if seen is not None:
        line += f"; {', '.join(summary.get('seen_sets', []))}, a writer it trained on: {_pct(seen)}"
    return ["", line + "."]


def _lambda(load: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"## Lambda load (loopback, {load['workers']} awslambdaric workers, 64x1024 PNG)",
        "",
        "| concurrency | requests | errors | p50 | p95 | p99 | requests/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lv in load["levels"]:
        out.append(
            f"| {lv['concurrency']} | {lv['requests']} | {lv['errors']} | {lv['p50_ms']} ms "
            f"| {lv['p95_ms']} ms | {lv['p99_ms']} ms | {lv['throughput_rps']} |"
        )
    return out


def _runs(runs: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Training runs (from `runs/NAME/summary.json`, as trained on this machine)",
        "",
        "| run | steps | fit time | lines/s | validation CER per set (last validation) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, s in runs.items():
        cers = ", ".join(f"{k[8:]} {_pct(v)}" for k, v in s.items() if k.startswith("val/cer/"))
        out.append(
            f"| {name} | {s.get('global_step', '?')} | {s.get('fit_seconds', 0) / 60:.1f} min "
            f"| {s.get('lines_per_s', 0):.0f} | {cers} |"
        )
    return out


def picture(examples: list[Example], path: Path, width: int = 1100) -> None:
    """Each example line above its truth and both readings."""
    font = ImageFont.truetype(FONT, 15)
    rows = []
    for ex in examples:
        img = Image.fromarray(ex.image).convert("RGB")
        if img.width > width:  # keep the aspect ratio: handwriting squashed sideways misleads
            img = img.resize((width, max(8, img.height * width // img.width)))
        rows.append(
            (
                img,
                [f"[{ex.set}] truth: {ex.truth}", f"ours: {ex.ours}", f"Tesseract: {ex.tesseract}"],
            )
        )
    height = sum(img.height + 3 * 20 + 16 for img, _ in rows)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for img, texts in rows:
        sheet.paste(img, (0, y))
        y += img.height + 4
        for text, colour in zip(texts, ("black", "darkgreen", "darkred"), strict=True):
            draw.text((4, y), text[:140], fill=colour, font=font)
            y += 20
        y += 12
    write_with(path, lambda tmp: sheet.save(tmp, format="PNG"))


def reliability_plot(calib: dict[str, Any], path: Path, side: int = 300, per_row: int = 3) -> None:
    """One reliability diagram per real set: the share of lines read with the event per
    confidence bin (bars; dots at the bin's mean confidence, with its line count) against
    the diagonal of perfect calibration."""
    sets = calib.get("sets", {})
    if not sets:
        return
    pad, top = 30, 40
    cell = (side + 2 * pad, side + top + pad)
    rows = (len(sets) + per_row - 1) // per_row
    sheet = Image.new("RGB", (min(len(sets), per_row) * cell[0], rows * cell[1]), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, c) in enumerate(sets.items()):
        origin = ((k % per_row) * cell[0] + pad, (k // per_row) * cell[1] + top + side)
        _panel(draw, origin, side, name, c, calib)
    write_with(path, lambda tmp: sheet.save(tmp, format="PNG"))


def _panel(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    side: int,
    name: str,
    c: dict[str, Any],
    calib: dict[str, Any],
) -> None:
    """One set's diagram, its bottom-left corner at `origin`."""
    font, small = ImageFont.truetype(FONT, 13), ImageFont.truetype(FONT, 10)
    x0, y1 = origin
    for b in c["reliability"]:
        if b["n"]:
            left, right = x0 + b["lo"] * side, x0 + b["hi"] * side
            y = y1 - b["frequency"] * side
            draw.rectangle([left, y, right, y1], fill="#7aa6d6")
            cx = x0 + b["confidence"] * side
            draw.ellipse([cx - 3, y - 3, cx + 3, y + 3], fill="black")
            draw.text((left + 2, y1 - 13), str(b["n"]), fill="black", font=small)
    draw.rectangle([x0, y1 - side, x0 + side, y1], outline="black")
    draw.line([x0, y1, x0 + side, y1 - side], fill="darkred", width=2)
    ece = "n/a" if c["ece"] is None else f"{c['ece']:.3f}"
    raw = "" if calib.get("calibrated") else " (raw, uncalibrated)"
    draw.text((x0, y1 - side - 36), f"{name}: {c['lines']} lines, ECE {ece}{raw}", "black", font)
    axes = f"x: confidence, y: share read with {calib['event']}"
    draw.text((x0, y1 - side - 18), axes, fill="grey", font=font)
