"""Architecture ablation: same lines, same wall-clock budget, several candidate networks.

`python -m experiments.ablation --seconds 150` renders a fixed pool of synthetic lines once, trains
each candidate on it for the budget (2 threads, bf16 autocast, AdamW, no data loading in the
timed loop), and writes experiments/ablation.json and experiments/ablation.md: parameters,
training lines/s and validation CER on 200 held-out lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.text import char_error_rate

from recognizer.ctc import greedy_decode
from recognizer.network import ModelConfig, Recognizer, count_parameters, output_lengths
from training.data.batching import collate
from training.data.charset import Charset
from training.data.datamodule import Lines
from training.data.synthetic import SyntheticConfig, SyntheticLines
from training.data.webdataset import load_shard, write_shard

log = logging.getLogger("experiments.ablation")
SMALL_CNN = (16, 32, 64, 96)
# The BiLSTM candidates of experiments/ablation.md ran at commit b037c45, before the LSTM
# sequence models were removed; their rows stay in the report.
CANDIDATES: dict[str, tuple[ModelConfig, float] | tuple[ModelConfig, float, int]] = {
    "CNN 16-96 + Transformer 2x192": (
        ModelConfig(channels=SMALL_CNN, sequence="transformer", hidden=192, layers=2),
        1e-3,
    ),
    "CNN 16-96 + Conv1d 6x256": (
        ModelConfig(channels=SMALL_CNN, sequence="conv", hidden=256, layers=3),
        3e-3,
    ),
    "CNN 16-96 + Conv1d 6x256, batch 16": (
        ModelConfig(channels=SMALL_CNN, sequence="conv", hidden=256, layers=3),
        2e-3,
        16,
    ),
}
HELD_OUT = 200


def pool(n: int, cache: Path) -> list:
    """`n` synthetic lines at height 40, rendered once and kept as a shard in `cache`."""
    path = cache / f"ablation-pool-{n}.tar"
    if not path.exists():
        gen = SyntheticLines(SyntheticConfig(height=40), seed=0)
        cache.mkdir(parents=True, exist_ok=True)
        write_shard((gen[i] for i in range(n)), path)
    return load_shard(path)


def val_cer(model: Recognizer, val: list, cs: Charset) -> float:
    """CER of greedy decoding on the held-out lines."""
    model.eval()
    preds: list[str] = []
    with torch.no_grad():
        for k in range(0, len(val), 50):
            b = collate(val[k : k + 50], 4)
            ids, _ = greedy_decode(model(b["images"]), output_lengths(b["widths"], 4))
            preds += [cs.decode(x) for x in ids]
    model.train()
    return float(char_error_rate(preds, [v[2] for v in val]))


def train_for(
    cfg: ModelConfig, lr: float, lines: Lines, n_train: int, val: list, seconds: float, bs: int = 32
) -> dict:
    """Train one candidate for `seconds`; returns its figures and CER curve."""
    torch.manual_seed(0)
    model = Recognizer(cfg, len(lines.charset))
    opt = torch.optim.AdamW(model.parameters(), lr)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    rng, step, seen, busy, curve = np.random.default_rng(0), 0, 0, 0.0, []
    while busy < seconds:
        idx = sorted(
            rng.integers(0, n_train, size=bs * 20).tolist(),
            key=lambda i: lines.parts[0][i].image.shape[1],
        )
        for k in range(0, len(idx), bs):
            b = collate([lines[(0, i)] for i in idx[k : k + bs]], 4)
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr * min(1.0, (step + 1) / 100)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lp = model(b["images"])
            loss = ctc(lp, b["targets"], output_lengths(b["widths"], 4), b["target_lengths"])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            busy += time.perf_counter() - t0
            step, seen = step + 1, seen + bs
            if step % 100 == 0:
                curve.append((step, round(busy), round(val_cer(model, val, lines.charset), 4)))
            if busy >= seconds:
                break
    return {
        "parameters": count_parameters(model),
        "steps": step,
        "train_lines_per_s": round(seen / busy, 1),
        "seconds": seconds,
        "val_cer": round(val_cer(model, val, lines.charset), 4),
        "curve": curve,
    }


def _cer_near(row: dict, seconds: float) -> str:
    """CER of the last curve point at or before `seconds` of training."""
    points = [cer for _, t, cer in row["curve"] if t <= seconds]
    return f"{100 * points[-1]:.1f}%" if points else "-"


def write_report(rows: list[dict], md: Path) -> None:
    """Markdown table of the ablation."""
    out = [
        "# Architecture ablation",
        "",
        f"`python -m experiments.ablation --seconds {rows[0]['seconds']:.0f}`: each candidate "
        "trains on the same pool of synthetic lines (height 40) for the same time on 2 CPU "
        "threads with bf16 autocast; CER on 200 held-out lines.",
        "",
        "| candidate | parameters | peak lr | training lines/s | steps | CER at 100 s "
        "| validation CER |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r['candidate']} | {r['parameters'] / 1e6:.2f}M | {r['lr']:g} | "
        f"{r['train_lines_per_s']} | {r['steps']} | {_cer_near(r, 100)} | "
        f"{100 * r['val_cer']:.1f}% |"
        for r in rows
    ]
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text("\n".join(out) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run every candidate (or those named) and report."""
    p = argparse.ArgumentParser(prog="python -m experiments.ablation", description=__doc__)
    p.add_argument("--seconds", type=float, default=150)
    p.add_argument("--lines", type=int, default=6000)
    p.add_argument("--only", nargs="*", default=list(CANDIDATES))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(2)
    lines = Lines([pool(args.lines, Path("cache/bench"))], Charset(), 40, 4)
    n_train = args.lines - HELD_OUT
    val = sorted((lines[(0, i)] for i in range(n_train, args.lines)), key=lambda v: v[0].shape[1])
    out = Path("experiments/ablation.json")
    # Rerunning some candidates keeps the others' rows (same pool, same budget).
    kept = (
        [
            r
            for r in json.loads(out.read_text())
            if r["candidate"] not in args.only and r["seconds"] == args.seconds
        ]
        if out.exists()
        else []
    )
    rows = []
    for name in args.only:
        cfg, lr, *batch = CANDIDATES[name]
        rows.append(
            {
                "candidate": name,
                "lr": lr,
                "batch": batch[0] if batch else 32,
                **train_for(cfg, lr, lines, n_train, val, args.seconds, *batch),
            }
        )
        log.info("%s", json.dumps(rows[-1]))
    order = list(CANDIDATES)  # rows of removed candidates stay first, in their order
    rows = sorted(
        kept + rows, key=lambda r: order.index(r["candidate"]) if r["candidate"] in order else -1
    )
    out.write_text(json.dumps(rows, indent=2) + "\n")
    write_report(rows, Path("experiments/ablation.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
