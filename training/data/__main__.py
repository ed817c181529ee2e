"""`python -m training.data preview|speed`: look at the data, and time the generator."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from training.data.preview import contact_sheet, save_png
from training.data.synthetic import SyntheticConfig, SyntheticLines

log = logging.getLogger("training.data")


def _preview(args: argparse.Namespace) -> None:
    gen = SyntheticLines(SyntheticConfig(height=args.height), seed=args.seed)
    samples = [gen[i] for i in range(args.n)]
    save_png(contact_sheet(samples), args.out)
    log.info("wrote %s (%d synthetic lines, seed %d)", args.out, args.n, args.seed)


def _speed(args: argparse.Namespace) -> None:
    gen = SyntheticLines(SyntheticConfig(height=args.height), seed=args.seed)
    for i in range(200):  # warm the font and glyph caches, as a long-lived worker has them
        gen[i]
    t0 = time.perf_counter()
    for i in range(args.n):
        gen[10_000 + i]
    rate = args.n / (time.perf_counter() - t0)
    log.info("synthetic generator: %.0f lines/s on one core at height %d", rate, args.height)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("preview", help="write a PNG contact sheet of synthetic lines")
    p.add_argument("--out", type=Path, default=Path("preview.png"))
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--height", type=int, default=64)
    p.set_defaults(func=_preview)
    s = sub.add_parser("speed", help="measure synthetic lines per second on one core")
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--height", type=int, default=40)
    s.set_defaults(func=_speed)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
