"""How much of each line the ink box keeps: `python -m experiments.crop`.

For every validation set (and synthetic test lines drawn at 64 px, as served), the share of
the image's rows and columns that `recognizer.preprocess.crop_to_ink` keeps, and how much wider
the model input gets when the crop is on (the same height, fewer rows of paper). Writes
experiments/crop.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from htr.atomic import write_text
from recognizer.preprocess import MAX_WIDTH, crop_to_ink, resize_to_height
from release.evaluate import eval_sets
from training.cli import run_command

log = logging.getLogger("experiments.crop")


def box_shares(images: list[np.ndarray], height: int = 40) -> dict[str, Any]:
    """Medians and deciles of kept rows, kept columns and the input's width factor."""
    rows, cols, wider = [], [], []
    for img in images:
        grey = torch.tensor(img, dtype=torch.float32)
        box = crop_to_ink(grey)  # what fit_height scales when cropping, found once
        rows.append(box.shape[0] / img.shape[0])
        cols.append(box.shape[1] / img.shape[1])
        scaled = resize_to_height(box, height, MAX_WIDTH), resize_to_height(grey, height, MAX_WIDTH)
        wider.append(scaled[0].shape[1] / scaled[1].shape[1])

    def q(v: list[float]) -> dict[str, float]:
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        return {"p10": round(p10, 3), "median": round(p50, 3), "p90": round(p90, 3)}

    return {"lines": len(images), "rows": q(rows), "columns": q(cols), "width_factor": q(wider)}


def run(out: Path, synthetic: int) -> dict[str, Any]:
    """Measure every set; log a line each and write `out`."""
    result = {}
    for name, lines in eval_sets(synthetic, 0, []).items():
        result[name] = r = box_shares([s.image for s in lines])
        log.info(
            "%s (%d lines): the box keeps %.0f%% of the rows (median; p10 %.0f%%), "
            "%.0f%% of the columns; the input gets %.2fx wider",
            name,
            r["lines"],
            100 * r["rows"]["median"],
            100 * r["rows"]["p10"],
            100 * r["columns"]["median"],
            r["width_factor"]["median"],
        )
    write_text(out, json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m experiments.crop", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("experiments/crop.json"))
    p.add_argument("--synthetic", type=int, default=256, help="synthetic test lines too")
    args = p.parse_args(argv)
    return run_command(log, lambda: run(args.out, args.synthetic))


if __name__ == "__main__":
    sys.exit(main())
