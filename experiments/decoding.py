"""Tune and time the LM beam search of an exported model: `python -m experiments.decoding`.

The LM weight and length bonus are picked on half of each validation set's documents (by a
stable hash) and reported on the other half, so the figures are not tuned on the lines they
describe. Then each beam width / pruning setting is scored on the whole sets, with the decoding
time per line on one thread. Writes experiments/decoding.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torchmetrics.functional.text import char_error_rate

from htr.atomic import write_text
from recognizer.beam import beam_search
from recognizer.ctc import greedy_decode
from release.calibration import tuning_half
from training.cli import run_command
from training.data.charset import normalize_text
from training.data.sources import SourceConfig, load_source

log = logging.getLogger("experiments.decoding")
SETS = ("copiste-val", "hooker-val")
Line = tuple[str, torch.Tensor, str]  # truth, log-probabilities (T, C), document


def outputs(model: torch.jit.ScriptModule, folder: Path) -> dict[str, list[Line]]:
    """The network's CTC log-probabilities for every line of the real validation sets."""
    out: dict[str, list[Line]] = {}
    with torch.inference_mode():
        for name in SETS:
            src = SourceConfig(f"{folder}/{name}-*.tar", name=name)
            rows = []
            for s in load_source(src, Path("cache/data")):
                lp, steps = model.log_probs_batch([torch.from_numpy(s.image.copy())])
                rows.append((normalize_text(s.text), lp[: steps[0], 0].clone(), s.doc))  # (T, C)
            out[name] = rows
    return out


_SCRIPTED: list[Any] = []


def _scripted() -> Any:
    """The beam search compiled once, as the exported file runs it."""
    if not _SCRIPTED:
        _SCRIPTED.append(torch.jit.script(beam_search))
    return _SCRIPTED[0]


def cer(
    model: torch.jit.ScriptModule,
    lines: list[Line],
    settings: dict[str, float],
    tables: list[torch.Tensor] | None = None,
) -> float:
    """Corpus CER of the beam search with `settings` (beam 0: best path), with the model's
    LM or the [keys, values] `tables` of another."""
    decode = _scripted()
    tables = tables or [model.lm_keys, model.lm_values]
    preds = []
    for _, lp, _ in lines:
        if settings["beam"] == 0:
            ids = greedy_decode(lp[:, None], torch.tensor([lp.shape[0]]))[0][0]
        else:
            ids = decode(
                lp,
                tables,
                int(settings.get("order", model.lm_order)),
                int(settings["beam"]),
                settings["alpha"],
                settings["beta"],
                settings["prune"],
                int(settings["top_k"]),
            )
        preds.append("".join(model.chars[i - 1] for i in ids))
    return round(float(char_error_rate(preds, [t for t, _, _ in lines])), 4)


def tune(
    model: torch.jit.ScriptModule,
    data: dict[str, list[Line]],
    base: dict,
    tables: list[torch.Tensor] | None = None,
    alphas: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6),
    betas: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 2.5),
) -> dict:
    """alpha and beta minimising the mean CER of the tuning halves; scores on the other half,
    with the model's LM or the [keys, values] `tables` of another."""
    grid = []
    for alpha in alphas:
        for beta in betas:
            s = {**base, "alpha": alpha, "beta": beta}
            c = {
                k: cer(model, [x for x in v if tuning_half(x[2])], s, tables)
                for k, v in data.items()
            }
            grid.append({"alpha": alpha, "beta": beta, "cer": c})
            log.info("alpha %.1f beta %.1f: %s", alpha, beta, c)
    best = min(grid, key=lambda g: sum(g["cer"].values()))
    s = {**base, "alpha": best["alpha"], "beta": best["beta"]}
    return {
        "grid": grid,
        "best": {"alpha": best["alpha"], "beta": best["beta"]},
        "held_out": {k: cer(model, v, s, tables) for k, v in held_out(data).items()},
    }


def held_out(data: dict[str, list[Line]]) -> dict[str, list[Line]]:
    """The lines of the documents the weights are not tuned on."""
    return {k: [x for x in v if not tuning_half(x[2])] for k, v in data.items()}


def trade_off(model: torch.jit.ScriptModule, data: dict[str, list[Line]], s: dict) -> list:
    """CER on the whole sets and decoding ms per line (one thread) per beam setting."""
    rows = []
    for beam, prune, top_k in ((0, 0, 0), (2, -3, 4), (3, -3, 4), (4, -4, 8), (6, -5, 8)):
        settings = {**s, "beam": beam, "prune": float(prune), "top_k": top_k}
        row: dict[str, Any] = {"beam": beam, "prune": prune, "top_k": top_k}
        for name, lines in data.items():
            t0 = time.perf_counter()
            row[name] = cer(model, lines, settings)
            row[f"{name} ms"] = round(1000 * (time.perf_counter() - t0) / len(lines), 1)
        rows.append(row)
        log.info("%s", row)
    return rows


def text_overlap(folder: Path, n: int = 20) -> dict[str, dict[str, float]]:
    """Share of each val set's n-character substrings found in its training transcriptions
    (what an LM learned from them can have read before), and val lines found verbatim."""
    out = {}
    for name in SETS:
        source = name.removesuffix("-val")
        train = [
            normalize_text(s.text)
            for s in load_source(SourceConfig(f"{folder}/{source}-train-*.tar"), Path("cache/data"))
        ]
        grams = {t[i : i + n] for t in train for i in range(len(t) - n + 1)}
        val = [
            normalize_text(s.text)
            for s in load_source(SourceConfig(f"{folder}/{name}-*.tar"), Path("cache/data"))
        ]
        val_grams = [t[i : i + n] for t in val for i in range(len(t) - n + 1)]
        out[name] = {
            f"{n}-grams_seen": round(
                sum(g in grams for g in val_grams) / max(1, len(val_grams)), 4
            ),
            "lines_seen": round(sum(t in set(train) for t in val) / max(1, len(val)), 4),
        }
    return out


def run(model_path: Path, folder: Path, out: Path) -> dict:
    """Tune on half the documents, then time every beam setting; write `out`."""
    torch.set_num_threads(1)
    model = torch.jit.load(str(model_path))
    if model.lm_keys.numel() == 0:
        raise SystemExit(f"{model_path} has no language model: export it with decode.beam > 0")
    data = outputs(model, folder)
    base = {"beam": model.beam, "prune": model.prune, "top_k": model.top_k}
    result = {"model": json.loads(model.meta_json)["version"], **tune(model, data, base)}
    greedy = {**base, **result["best"], "beam": 0}
    result["held_out_best_path"] = {k: cer(model, v, greedy) for k, v in held_out(data).items()}
    result["trade_off"] = trade_off(model, data, {**base, **result["best"]})
    result["text_overlap"] = text_overlap(folder)
    write_text(out, json.dumps(result, indent=1) + "\n")
    log.info("wrote %s: best %s, held-out %s", out, result["best"], result["held_out"])
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m experiments.decoding", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("model_repo/model.pt"))
    p.add_argument("--data", type=Path, default=Path("../shared/data/lines"))
    p.add_argument("--out", type=Path, default=Path("experiments/decoding.json"))
    p.add_argument("--overlap", action="store_true", help="only measure the text overlap")
    args = p.parse_args(argv)
    if args.overlap:
        return run_command(log, lambda: log.info("%s", text_overlap(args.data)))
    return run_command(log, lambda: run(args.model, args.data, args.out))


if __name__ == "__main__":
    sys.exit(main())
