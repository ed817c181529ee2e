"""What turning maps into lines costs, apart from the network: the finder's post-processing
run on exact maps drawn from the ground truth of real val pages.

`python -m experiments.page_cut --model ../shared/models/htr-line-recognizer/model.pt`

Per val page set: baseline F1 of the lines found on exact maps (bench.page_metrics), the CER
of those lines cut by `recognizer.page_finder.cut_line` against the same GT lines cut from
their GT polygons (training.data.pages._crop), and the page CER in reading order, so the
order's cost is visible too. Writes experiments/page_cut.json; the write-up is
experiments/pages.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench import page_metrics as pm
from recognizer.finder import MAP_STRIDE, FinderConfig, FinderNet
from recognizer.page_finder import PageFinder, cut_line
from recognizer.page_input import page_scale
from training.data.page_samples import PageSample, page_shards, read_page_shard
from training.data.pages import _crop

log = logging.getLogger("experiments.page_cut")


def exact_maps(page: PageSample, scale: float) -> torch.Tensor:
    """(2, h, w) maps a perfect finder would predict: the targets the finder trains on."""
    h, w = page.image.shape
    m = scale / MAP_STRIDE
    size = (int(np.ceil(w * m)), int(np.ceil(h * m)))
    base, region = Image.new("L", size, 0), Image.new("L", size, 0)
    for line in page.lines:
        ImageDraw.Draw(base).line([(x * m, y * m) for x, y in line.baseline], 255, width=3)
        if len(line.polygon) >= 3:
            ImageDraw.Draw(region).polygon([(x * m, y * m) for x, y in line.polygon], fill=255)
    maps = [np.asarray(im, dtype=np.float32) / 255 for im in (base, region)]
    return torch.from_numpy(np.stack(maps))


def padded(polygon: torch.Tensor, pad: float) -> torch.Tensor:
    """An x-monotone polygon with its top edge raised and bottom edge lowered by `pad` times
    its median height."""
    half = polygon.size(0) // 2
    upper, lower = polygon[:half].clone(), polygon[half:].clone()
    height = float((lower.flip(0)[:, 1] - upper[:, 1]).median())
    upper[:, 1] -= pad * height
    lower[:, 1] += pad * height
    return torch.cat([upper, lower])


def _read(model: torch.jit.ScriptModule, crops: list[torch.Tensor]) -> list[str]:
    return list(model.predict_batch(crops)) if crops else []


def study_page(
    model: torch.jit.ScriptModule, finder: PageFinder, page: PageSample, pad: float = 0.0
) -> dict:
    """One page: exact maps -> lines -> cuts, against its GT lines and GT cuts."""
    h, w = page.image.shape
    scale = page_scale(h, w, finder.size)
    t0 = time.perf_counter()
    found = finder.lines_from_maps(exact_maps(page, scale), scale, h, w)
    seconds = time.perf_counter() - t0
    grey = torch.from_numpy(page.image.copy()).float()
    ours = _read(model, [cut_line(grey, padded(polygon, pad)) for polygon, _ in found])
    gt_lines = [ln for ln in page.lines if ln.text and len(ln.polygon) >= 3]
    gt_cut = _read(model, [torch.from_numpy(_crop(page.image, ln.polygon)) for ln in gt_lines])
    truth = [ln.text for ln in gt_lines]
    base = pm.baseline_page([b.numpy() for _, b in found], [ln.baseline for ln in page.lines], 10)
    return {
        "lines": len(page.lines),
        "found": len(found),
        "f1": base["f1"],
        "cut": pm.cer_order_free(ours, truth),
        "ordered": pm.cer_ordered(ours, truth),
        "gt_cut": pm.cer_order_free(gt_cut, truth, [(i, i) for i in range(len(truth))]),
        "seconds": seconds,
    }


def study(model_path: Path, pages: Path, pad: float = 0.0) -> dict:
    """Every val page set of `pages`, summed per set."""
    model = torch.jit.load(str(model_path))
    finder = torch.jit.script(PageFinder(FinderNet(), FinderConfig()))
    out = {}
    for shard in page_shards(pages, "val"):
        rows = [study_page(model, finder, p, pad) for p in read_page_shard(shard)]

        def total(key: str, rows: list[dict] = rows) -> float | None:
            return pm.rate(sum(r[key][0] for r in rows), sum(r[key][1] for r in rows))

        out[shard.name.split("-000")[0]] = {
            "pages": len(rows),
            "lines": sum(r["lines"] for r in rows),
            "found": sum(r["found"] for r in rows),
            "baseline_f1": round(float(np.mean([r["f1"] for r in rows])), 4),
            "cer_gt_cut": round(total("gt_cut") or 0.0, 4),
            "cer_cut_from_maps": round(total("cut") or 0.0, 4),
            "page_cer_ordered": round(total("ordered") or 0.0, 4),
            "seconds_per_page": round(float(np.median([r["seconds"] for r in rows])), 3),
        }
        log.info("%s: %s", shard.name, out[shard.name.split("-000")[0]])
    return out


def main() -> None:
    """Run the study and write its JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="a model.pt that reads lines")
    p.add_argument("--pages", type=Path, default=Path("../shared/data/pages"))
    p.add_argument("--out", type=Path, default=Path("experiments/page_cut.json"))
    p.add_argument("--pad", type=float, default=0.0, help="cut this share of a line higher/lower")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    result = {"model": str(args.model), "pad": args.pad}
    result["sets"] = study(args.model, args.pages, args.pad)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
