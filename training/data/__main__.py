"""`python -m training.data preview|speed|examples`: look at the data, time the generator, and
render the Space's example lines."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from training.data.preview import contact_sheet, save_png
from training.data.synthetic import SyntheticConfig, SyntheticLines

log = logging.getLogger("training.data")
EXAMPLES = Path(__file__).resolve().parents[2] / "space" / "examples"
EXAMPLE_PICKS = {"example-1.png": 7, "example-2.png": 21, "example-3.png": 40}  # seed-0 lines
# Real validation lines shown beside them when the datasets are present; never committed (the
# datasets stay outside the repository), each credited as its licence asks.
REAL_PICKS = {
    "copiste-val-000.tar": "imp_wikitexte_0166_l009",
    "hooker-val-000.tar": "JDH_2_16_170_003_l017",
}
LINES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lines"


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


def _examples(args: argparse.Namespace) -> None:
    """The picked lines of seed 0 at 64 px (the real data's height), each with its text."""
    from PIL import Image

    if args.real:
        _real_examples(args.lines, args.out / "real")
        return
    gen = SyntheticLines(SyntheticConfig(height=64, clean=0.0), seed=0)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, index in EXAMPLE_PICKS.items():
        line = gen[index]
        Image.fromarray(line.image).save(args.out / name, optimize=True)
        (args.out / name).with_suffix(".txt").write_text(line.text + "\n", encoding="utf-8")
    log.info("wrote %d examples to %s", len(EXAMPLE_PICKS), args.out)


def _real_examples(lines: Path, out: Path) -> None:
    """The picked real lines with their text and credit, when their shards are present."""
    from PIL import Image

    from training.data.webdataset import load_shard

    for shard, key in REAL_PICKS.items():
        if not (lines / shard).is_file():
            log.info("no %s under %s: no real example from it", shard, lines)
            continue
        line = next((s for s in load_shard(lines / shard) if s.meta.get("key") == key), None)
        if line is None:
            log.warning("%s holds no line %s: no real example from it", shard, key)
            continue
        out.mkdir(parents=True, exist_ok=True)
        name = shard.split("-")[0]
        Image.fromarray(line.image).save(out / f"{name}.png", optimize=True)
        (out / f"{name}.txt").write_text(line.text + "\n", encoding="utf-8")
        meta = line.meta
        credit = f"{meta.get('source', '')}: {meta.get('url', '')}, {meta.get('license', '')}"
        (out / f"{name}.credit").write_text(credit + "\n", encoding="utf-8")
        log.info("real example %s from %s", out / f"{name}.png", shard)


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
    e = sub.add_parser("examples", help="render the Space's example lines")
    e.add_argument("--out", type=Path, default=EXAMPLES)
    e.add_argument("--real", action="store_true", help="only the real val lines (gitignored)")
    e.add_argument("--lines", type=Path, default=LINES, help="folder of the line shards")
    e.set_defaults(func=_examples)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
