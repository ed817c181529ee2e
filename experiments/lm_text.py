"""Which LM should a model carry? `python -m experiments.lm_text --model model_repo/model.pt`.

Each choice is a set of `decode.` overrides on the file's own decode config ("order=7",
"corpora=dasher,transcriptions,gcide"; "" is the file's): the LM is built as export would
build it (from the run's own training sources), alpha and beta are tuned on half of each
validation set's documents and it is scored on the other half (experiments.decoding's split), with
the file's beam settings. The network's outputs are computed once. Writes experiments/lm_text.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from experiments.decoding import outputs, tune
from htr.atomic import write_text
from htr.errors import ConfigError
from training.cli import apply_overrides, run_command
from training.config import TrainConfig, from_saved
from training.data.charset import Charset
from training.lm import build_tables, corpus

log = logging.getLogger("experiments.lm_text")
CHOICES = ("", "order=7", "corpora=dasher,transcriptions,gcide")  # experiments/decoding.md
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.8)
BETAS = (1.0, 1.5, 2.0, 2.5)


def compare(model: Any, cfg: TrainConfig, data: dict, choice: str) -> dict[str, Any]:
    """The tuned alpha, beta and held-out CER of the LM of `choice` ("key=value;...")."""
    pairs = [kv.split("=", 1) for kv in choice.split(";") if kv.strip()]
    if any(len(kv) != 2 for kv in pairs):
        raise ConfigError(f"choice {choice!r}: write decode overrides as key=value;key=value")
    decode = apply_overrides(cfg.decode, {k.strip(): v.strip() for k, v in pairs})
    tables = build_tables(decode, Charset(cfg.data.charset), corpus(decode, cfg.data))
    lm = [tables["keys"], tables["values"]]
    base = {"beam": model.beam, "prune": model.prune, "top_k": model.top_k, "order": decode.order}
    log.info("choice %r", choice)
    return {
        "choice": choice,
        "corpora": ",".join(decode.corpora),
        "order": decode.order,
        "lm_entries": int(tables["keys"].numel()),
        "lm_megabytes": round((tables["keys"].nbytes + tables["values"].nbytes) / 1e6, 2),
        **tune(model, data, base, lm, ALPHAS, BETAS),
    }


def run(model_path: Path, folder: Path, out: Path, choices: list[str]) -> dict:
    """Compare every choice of LM text on the same network outputs; write `out`."""
    torch.set_num_threads(1)
    model = torch.jit.load(str(model_path))
    meta = json.loads(model.meta_json)
    cfg = from_saved(meta["training_config"])
    data = outputs(model, folder)
    result = {"model": meta["version"], "choices": [compare(model, cfg, data, c) for c in choices]}
    write_text(out, json.dumps(result, indent=1) + "\n")
    for c in result["choices"]:
        log.info(
            "%r: %s MB, best %s, held-out %s",
            c["choice"],
            c["lm_megabytes"],
            c["best"],
            c["held_out"],
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m experiments.lm_text", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("model_repo/model.pt"))
    p.add_argument("--data", type=Path, default=Path("../shared/data/lines"))
    p.add_argument("--out", type=Path, default=Path("experiments/lm_text.json"))
    p.add_argument(
        "--choices",
        nargs="+",
        default=list(CHOICES),
        help='decode overrides per choice, e.g. "order=7" ("": as exported)',
    )
    args = p.parse_args(argv)
    return run_command(log, lambda: run(args.model, args.data, args.out, args.choices))


if __name__ == "__main__":
    sys.exit(main())
