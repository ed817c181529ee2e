"""`python -m bench` (`make bench`): the whole system against Tesseract, in one command.

Scores the published model (the Space's model source: the local Hub after `make demo`) and
Tesseract on the same lines, times both, runs the Lambda load test, and writes BENCHMARKS.md
and bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from bench import lambda_load, pages, quality, report, speed, tesseract
from htr.atomic import write_text
from htr.errors import ConfigError
from release.export import git_commit
from serving.source import ModelSource, checked_out, fetch, location
from training import val_sets
from training.cli import run_command

log = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """Cores, CPU model and the software that the timings depend on."""
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def published_model() -> tuple[torch.jit.ScriptModule, Path, dict[str, Any]]:
    """The model users get (the Space's source) and where it came from."""
    source = ModelSource.from_env()
    path = fetch(source)
    files = {"config.json": ""}
    model = torch.jit.load(str(path), _extra_files=files)
    meta = json.loads(files["config.json"] or "{}")
    commit = checked_out(source, path)  # HEAD of the clone of THAT location, or the snapshot
    info = {
        "source": f"{source.kind} {source.location}",
        "location": location(source),
        "commit": commit,
        "revision": commit[:12] or source.revision,
        "version": meta.get("version", "?"),
        "preset": meta.get("training_config", {}).get("log", {}).get("name", "?"),
    }
    return model, path, info


def finished_runs(root: Path) -> dict[str, Any]:
    """What the training runs under `root` reported (runs/NAME/summary.json)."""
    keep = ("fit_seconds", "global_step", "lines_per_s")
    runs = {}
    for path in sorted(root.glob("*/summary.json")):
        summary = json.loads(path.read_text())
        runs[path.parent.name] = {
            **{k: summary[k] for k in keep if k in summary},
            **{
                k: round(v, 4)
                for k, v in summary.items()
                if k.startswith(("val/cer/", "test/cer/"))
            },
        }
    return runs


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, in an order that keeps the CPU free for the timed ones."""
    t0 = time.perf_counter()
    r: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    r["machine"], r["git_commit"] = machine(), git_commit(12)
    jobs = r["machine"]["cores"]
    r["tesseract"] = {"version": tesseract.version(), "langs": tesseract.LANGS, "psm": 7}
    model, path, r["model"] = published_model()
    log.info("model %s from %s", r["model"]["version"], r["model"]["source"])
    r["quality"], examples, pool, r["calibration"] = quality.run(
        model, args.synthetic, args.data, args.max_lines, jobs
    )
    r["summary"] = val_sets.summary({k: q["ours"]["cer"] for k, q in r["quality"].items()})
    if not examples:
        raise ConfigError("no lines to benchmark: keep --synthetic above 0 or pass --data")
    line = speed.reference_line()  # the one experiments.latency times too
    r["latency"] = speed.latency(model, line)
    r["throughput"] = speed.throughput(model, pool, jobs)
    r["cold_start"] = speed.cold_start(path, r["latency"]["tesseract"]["p50_ms"])
    r["size"] = speed.sizes(path)
    r["training"] = {p: speed.training_throughput(p, args.train_steps) for p in args.presets}
    r["train_steps"] = args.train_steps
    env = speed.model_env(path)
    r["lambda_load"] = lambda_load.run(args.levels, args.requests, 2, cold=False, env=env)
    skip = {"skipped": "--no-pages"}
    r["pages"] = pages.run(model, args.out_dir, jobs, tol=args.page_tol) if args.pages else skip
    r["runs"] = finished_runs(args.runs)
    r["seconds"] = round(time.perf_counter() - t0, 1)
    r["targets"] = report.targets(r)
    report.picture(examples, args.out_dir / "bench" / "examples.png")
    report.reliability_plot(r["calibration"], args.out_dir / "bench" / "calibration.png")
    write_text(
        args.out_dir / "bench" / "results.json", json.dumps(r, indent=2, ensure_ascii=False) + "\n"
    )
    write_text(args.out_dir / "BENCHMARKS.md", report.markdown(r))
    log.info("wrote BENCHMARKS.md and bench/results.json in %.0f s", r["seconds"])
    return r


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--data", nargs="*", default=[], help="more line datasets (paths or URLs)")
    p.add_argument("--synthetic", type=int, default=256, help="synthetic test lines (0: none)")
    p.add_argument("--max-lines", type=int, default=0, help="lines per set, evenly spaced (0: all)")
    p.add_argument("--presets", nargs="*", default=["quick", "full"], help="training throughput of")
    p.add_argument("--train-steps", type=int, default=150)
    p.add_argument("--levels", type=int, nargs="*", default=[1, 2, 4, 8])
    p.add_argument("--requests", type=int, default=60, help="Lambda requests per level")
    p.add_argument("--out-dir", type=Path, default=ROOT)
    p.add_argument("--runs", type=Path, default=ROOT / "runs", help="training runs to report")
    p.add_argument("--pages", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--page-tol", type=float, default=10.0, help="baseline tolerance, px")
    args = p.parse_args(argv)
    return run_command(log, lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
