"""One-thread latency of exported files, timed alternately: `python -m experiments.latency A B`.

A shared machine's speed drifts within minutes (experiments/decoding.md), so two files are
compared only when timed alternately on the same line: each round calls every file 10 times with
its own decoding (the LM beam search) and 10 times with best path, then moves to the next.
The line is `make bench`'s (`bench.speed.reference_line`): the real validation line nearest
64x1024 in proportions, scaled to it.
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

from bench.speed import one_thread, reference_line, timed_predict
from bench.stats import quantiles
from htr.atomic import write_text
from release.evaluate import load_exported
from training.cli import run_command

log = logging.getLogger("experiments.latency")


def compare(
    models: dict[str, torch.jit.ScriptModule], line: np.ndarray, rounds: int
) -> dict[str, Any]:
    """p50/p95 of each file's `predict` with its own decoding and with best path."""
    x = torch.from_numpy(line.copy())
    own: dict[str, list[float]] = {k: [] for k in models}
    best: dict[str, list[float]] = {k: [] for k in models}
    with one_thread(), torch.inference_mode():
        for m in models.values():  # warm-up: TorchScript optimises its first calls
            for _ in range(5):
                timed_predict(m, x, None)
                timed_predict(m, x, 0)
        for _ in range(rounds):
            for k, m in models.items():
                for _ in range(10):
                    own[k].append(timed_predict(m, x, None))
                    best[k].append(timed_predict(m, x, 0))
    return {
        "shape": list(line.shape),
        "rounds": rounds,
        "models": {k: {"own": quantiles(own[k]), "best_path": quantiles(best[k])} for k in models},
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m experiments.latency", description=__doc__)
    p.add_argument("models", type=Path, nargs="+", help="exported model.pt files")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--out", type=Path, help="also write the figures here as JSON")

    args = p.parse_args(argv)

    def run() -> None:
        models = {str(p): load_exported(p)[0] for p in args.models}  # a bad path fails first
        result = compare(models, reference_line(), args.rounds)
        for name, r in result["models"].items():
            own, best = r["own"]["p50_ms"], r["best_path"]["p50_ms"]
            log.info("%s: p50 %.1f ms with its decoding, %.1f ms best path", name, own, best)
        if args.out:
            write_text(args.out, json.dumps(result, indent=2) + "\n")

    return run_command(log, run)


if __name__ == "__main__":
    sys.exit(main())
