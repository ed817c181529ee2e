"""Adapt a published model to a hand or document: `python -m release.finetune MODEL_PT LINES`.

Fine-tunes the network of MODEL_PT on LINES (corrected lines: the Space's feedback/ folder,
any kraken-style folder of NAME.png + NAME.gt.txt, or a WebDataset shard) for a few minutes
(training/finetune.py), then writes OUT/model.pt and OUT/config.json through export's check,
with the published file's LM, decoding and calibration, ready for `python -m release.publish`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from release.finetune_export import write_finetuned
from training.cli import run_command
from training.finetune import FinetuneConfig, finetune, load_published, read_lines

log = logging.getLogger("release.finetune")


def run(model: Path, lines: Path, out: Path, ft: FinetuneConfig, fmt: str = "auto") -> Path:
    """Fine-tune `model` on the lines at `lines` and write the new file into `out`."""
    pub = load_published(model)
    samples = read_lines(lines, fmt)
    log.info(
        "%s: %d lines to adapt %s (version %s)", lines, len(samples), model, pub.scripted.version
    )
    result = finetune(pub, samples, ft)
    return write_finetuned(pub, result, out, str(lines))


def parser() -> argparse.ArgumentParser:
    """The command line."""
    d = FinetuneConfig()
    p = argparse.ArgumentParser(
        prog="python -m release.finetune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, metavar="MODEL_PT", help="a published model.pt")
    p.add_argument("lines", type=Path, metavar="LINES_PATH", help="folder or shard of lines")
    p.add_argument("--out", type=Path, default=Path("model_repo_finetuned"), help="output folder")
    p.add_argument("--minutes", type=float, default=d.minutes, help="time budget of the learning")
    p.add_argument("--steps", type=int, default=d.steps, help="step budget of the learning")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument(
        "--holdout",
        type=float,
        default=d.holdout,
        help=f"share held out to pick the best step (from {d.min_lines_for_holdout} lines)",
    )
    p.add_argument("--format", default="auto", help="auto | kraken | webdataset | pages | pkl")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="lines as they are")
    p.add_argument("--no-warp", dest="warp", action="store_false", help="no elastic warps, pens")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads; 0: default")
    p.add_argument("--seed", type=int, default=d.seed)
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: a caller's mistake exits 2 with the message."""
    a = parser().parse_args(argv)

    def action() -> Path:
        ft = FinetuneConfig(
            steps=a.steps,
            minutes=a.minutes,
            lr=a.lr,
            batch_size=a.batch_size,
            holdout=a.holdout,
            augment=a.augment,
            warp=a.warp,
            threads=a.threads,
            seed=a.seed,
        )
        return run(a.model, a.lines, a.out, ft, a.format)

    return run_command(log, action)


if __name__ == "__main__":
    sys.exit(main())
