"""Which found baselines to keep: the finder's maps of the real val pages, computed once, then
the baseline P/R/F1 of each (threshold, min_length, min_share) setting of
`recognizer.page_finder.PageFinder`.

`python -m experiments.page_filter runs/finder-full/checkpoints/best-656.ckpt`

Writes experiments/page_filter.json; the write-up is experiments/pages.md, "Short fragments".
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import torch

from bench import page_metrics as pm
from recognizer.page_input import page_input
from release.finder_export import load_finder
from training.data.page_samples import page_shards, read_page_shard

log = logging.getLogger("experiments.page_filter")
SETTINGS = [
    (0.5, 6, 0.0),
    (0.5, 12, 0.0),
    (0.5, 18, 0.0),
    (0.6, 12, 0.0),
    (0.7, 12, 0.0),
    (0.5, 6, 0.1),
    (0.5, 6, 0.2),
    (0.5, 6, 0.3),
    (0.5, 10, 0.2),
]


def page_maps(finder: torch.nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The finder's (2, h, w) probabilities of a page, cropped to the page, and its scale."""
    grey = image.float()
    with torch.inference_mode():
        x, scale = page_input(grey, finder.size)
        probs = torch.sigmoid(finder.net(x))[0]
    h = math.ceil(grey.size(0) * scale / finder.stride)
    w = math.ceil(grey.size(1) * scale / finder.stride)
    return probs[:, :h, :w].float(), scale


def sweep(checkpoint: Path, pages: Path) -> list[dict]:
    """Baseline P/R/F1 per val set for every setting of SETTINGS."""
    eager, _ = load_finder(checkpoint)
    finder = torch.jit.script(eager)
    sets = {s.name.split("-000")[0]: list(read_page_shard(s)) for s in page_shards(pages, "val")}
    maps = {
        (name, i): page_maps(eager, torch.from_numpy(p.image.copy()))
        for name, ps in sets.items()
        for i, p in enumerate(ps)
    }
    rows = []
    for threshold, min_length, min_share in SETTINGS:
        finder.threshold, finder.min_length, finder.min_share = threshold, min_length, min_share
        row = {"threshold": threshold, "min_length": min_length, "min_share": min_share}
        for name, ps in sets.items():
            scored = []
            for i, p in enumerate(ps):
                probs, scale = maps[(name, i)]
                found = finder.lines_from_maps(probs, scale, p.image.shape[0], p.image.shape[1])
                gt = [line.baseline for line in p.lines]
                scored.append(pm.baseline_page([b.numpy() for _, b in found], gt, pm.TOLERANCE))
            row[name] = {k: round(v, 3) for k, v in pm.baseline_set(scored).items()}
        log.info("%s", row)
        rows.append(row)
    return rows


def main() -> None:
    """Run the sweep and write its JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a line-finder checkpoint")
    p.add_argument("--pages", type=Path, default=Path("../shared/data/pages"))
    p.add_argument("--out", type=Path, default=Path("experiments/page_filter.json"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    rows = sweep(args.checkpoint, args.pages)
    result = {"checkpoint": str(args.checkpoint), "settings": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
