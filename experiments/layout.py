"""Numerics and memory layout of a CPU training step: float32, bf16 autocast, channels_last,
torch.compile, and what dropout costs.

`python -m experiments.layout` times full training steps (forward, CTC loss, backward, AdamW) of the
default network on batches of 16 lines at height 40 and the widths training sees, on 2 threads,
and writes experiments/layout.json and experiments/layout.md. `--compile` adds torch.compile
(inductor, dynamic shapes), which first spends minutes compiling on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from htr.atomic import write_text
from recognizer.network import ModelConfig, Recognizer

log = logging.getLogger("experiments.layout")
WIDTHS = (384, 448, 512, 320, 576, 416, 480, 352)  # rebucketed widths: multiples of 32
BATCH, HEIGHT, CLASSES, LABELS = 16, 40, 150, 30
VARIANTS = {
    # name: (bf16 autocast, channels_last, torch.compile, dropout, dropout mode)
    "float32": (False, False, False, 0.0, "element"),
    "bf16-mixed": (True, False, False, 0.0, "element"),
    "bf16-mixed + channels_last": (True, True, False, 0.0, "element"),
    # Dropout draws one random number per activation; CPU's bernoulli_ is slow enough to show.
    "bf16-mixed + channels_last, dropout 0.1": (True, True, False, 0.1, "element"),
    # One draw per channel and line instead (model.dropout_mode channel).
    "bf16-mixed + channels_last, channel dropout 0.1": (True, True, False, 0.1, "channel"),
    "bf16-mixed + torch.compile": (True, False, True, 0.0, "element"),
}


def _step_fn(bf16: bool, channels_last: bool, compiled: bool, dropout: float, mode: str):
    torch.manual_seed(0)
    model = Recognizer(ModelConfig(dropout=dropout, dropout_mode=mode), CLASSES)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ctc = nn.CTCLoss(zero_infinity=True)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    forward = torch.compile(model, dynamic=True) if compiled else model

    def step(width: int) -> None:
        x = torch.rand(BATCH, 1, HEIGHT, width)  # (B, 1, H, W)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        targets = torch.randint(1, CLASSES, (BATCH, LABELS))
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with amp:
            log_probs = forward(x)  # (T, B, C)
        t = torch.full((BATCH,), log_probs.shape[0])
        loss = ctc(log_probs, targets, t, torch.full((BATCH,), LABELS))
        loss.backward()
        opt.step()
        opt.zero_grad()

    return step


def _pass(step) -> float:
    """Seconds for one step at each of WIDTHS."""
    t0 = time.perf_counter()
    for w in WIDTHS:
        step(w)
    return time.perf_counter() - t0


def measure(
    variants: dict[str, tuple[bool, bool, bool, float]], rounds: int = 5
) -> dict[str, dict]:
    """First-pass seconds and median ms per step of each variant, timed in turns.

    This shared host's speed drifts by 20% within minutes: timing the variants one after the
    other would measure the drift; interleaved rounds and a median compare them fairly.
    """
    steps = {name: _step_fn(*flags) for name, flags in variants.items()}
    first = {}
    for name, step in steps.items():
        log.info("first pass of %s", name)
        first[name] = _pass(step)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(_pass(step) / len(WIDTHS) * 1000)
    return {
        name: {
            "warmup_s": round(first[name], 1),
            "ms_per_step": round(statistics.median(times[name]), 1),
            "rounds_ms": [round(t, 1) for t in times[name]],
        }
        for name in steps
    }


def table(results: dict[str, dict]) -> str:
    """Markdown table; speed-up relative to float32."""
    base = results["float32"]["ms_per_step"]
    rows = [
        "| variant | ms per step | lines/s | speed-up | first pass (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        ms = r["ms_per_step"]
        rows.append(
            f"| {name} | {ms:.1f} | {BATCH * 1000 / ms:.1f} | {base / ms:.2f}x "
            f"| {r['warmup_s']:.1f} |"
        )
    return "\n".join(rows)


def report(results: dict[str, dict], threads: int, compiled: bool) -> str:
    """experiments/layout.md: what was timed, how to rerun it, the table."""
    command = "python -m experiments.layout" + (" --compile" if compiled else "")
    return (
        "# Numerics and layout of a CPU training step\n\n"
        f"`{command}` (`make layout`): full training steps (forward, CTC, backward, AdamW) of "
        f"the default network (dropout 0 unless named), batches of {BATCH} lines at height "
        f"{HEIGHT} and widths {', '.join(map(str, WIDTHS))}, {threads} threads; the first pass "
        "over the widths is timed apart (compilation from a cold cache, oneDNN kernel "
        "selection), then the "
        "variants take turns for the timed passes and the table gives each one's median "
        "(this shared host's speed drifts by about 20% within minutes).\n\n" + table(results) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes per variant")
    parser.add_argument("--out", type=Path, default=Path("experiments/layout.json"))
    parser.add_argument("--md", type=Path, default=Path("experiments/layout.md"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    variants = {k: v for k, v in VARIANTS.items() if args.compile or not v[2]}
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # a cold compile, as a fresh machine pays
        results = measure(variants, args.rounds)
    write_text(args.out, json.dumps({"threads": args.threads, "results": results}, indent=2) + "\n")
    write_text(args.md, report(results, args.threads, args.compile))
    log.info("wrote %s and %s", args.out, args.md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
