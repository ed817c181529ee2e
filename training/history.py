"""A run's validation history from its TensorBoard files, as a markdown table.

`python -m training.history runs/NAME [--tag val/cer] [--every 4096]`: one row per
validation (or every Nth step), one column per evaluation set (`val/cer/copiste`, ...), and
the mean training throughput; the tables in experiments/training-runs.md come from it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from htr.errors import ConfigError

log = logging.getLogger(__name__)


def scalars(run: Path) -> dict[str, dict[int, float]]:
    """Every scalar tag of a run's TensorBoard files: tag -> {step: last value at that step}."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted((run / "tensorboard").rglob("events.out.tfevents.*"))
    if not files:
        raise ConfigError(
            f"no TensorBoard files under {run / 'tensorboard'}; "
            "pass a run folder that training wrote (runs/NAME)"
        )
    out: dict[str, dict[int, float]] = {}
    for f in files:  # a resumed run adds files; later ones win on a repeated step
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return out


def table(history: dict[str, dict[int, float]], tag: str = "val/cer", every: int = 0) -> str:
    """Markdown: a row per step at which `tag/*` was logged (or every `every`th, plus the last)."""
    columns = sorted(t for t in history if t.startswith(tag + "/"))
    if not columns:
        raise ConfigError(f"no scalars under {tag}/ in this run; tags: {sorted(history)}")
    steps = sorted(set().union(*(history[c] for c in columns)))
    if every:
        steps = [s for s in steps if (s + 1) % every == 0 or s == steps[-1]]
    names = [c.removeprefix(tag + "/") for c in columns]
    lines = ["| step | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for s in steps:
        cells = [f"{100 * history[c][s]:.1f}%" if s in history[c] else "" for c in columns]
        lines.append(f"| {s:,} | " + " | ".join(cells) + " |")
    speed = history.get("lines_per_s", {})
    if speed:
        values = list(speed.values())
        lines.append(
            f"\nlines_per_s: mean {sum(values) / len(values):.1f}, "
            f"min {min(values):.1f}, max {max(values):.1f} over {len(values)} logs"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """CLI: print the table of one run."""
    parser = argparse.ArgumentParser(prog="python -m training.history", description=__doc__)
    parser.add_argument("run", type=Path, help="a run folder, runs/NAME")
    parser.add_argument("--tag", default="val/cer", help="the scalar prefix (val/cer, val/wer)")
    parser.add_argument("--every", type=int, default=0, help="keep every Nth step, and the last")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(table(scalars(args.run), args.tag, args.every) + "\n")
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
