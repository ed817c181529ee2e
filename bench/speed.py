"""Speed and size: latency, throughput, cold start, file size and training throughput.

Each figure is the median of several timed runs after a warm-up, and Tesseract is timed in
the same invocation, interleaved with our model, so the ratio holds on a noisy machine.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench import lambda_load, tesseract
from bench.stats import quantiles
from release.evaluate import eval_sets

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one intra-op thread inside the block (the latency budget's setting)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def latency(model: torch.jit.ScriptModule, line: np.ndarray, rounds: int = 10) -> dict[str, Any]:
    """A served call at batch 1 on one thread, and one Tesseract call, on the same line."""
    with one_thread():
        return _latency(model, line, rounds)


def served(model: torch.jit.ScriptModule, images: list[torch.Tensor]) -> list:
    """What the Space and the Lambda call: `read_lines` (text, confidences, words) where the
    file has it, else `predict_batch`."""
    if hasattr(model, "read_lines"):
        return model.read_lines(images)
    return model.predict_batch(images)


def timed_predict(model: torch.jit.ScriptModule, x: torch.Tensor, beam: int | None) -> float:
    """Seconds of one served call on one line at beam width `beam` (None: the file's own)."""
    previous = model.set_beam(beam) if beam is not None else None
    t0 = time.perf_counter()
    served(model, [x])
    seconds = time.perf_counter() - t0
    if previous is not None:
        model.set_beam(previous)
    return seconds


def _latency(model: torch.jit.ScriptModule, line: np.ndarray, rounds: int) -> dict[str, Any]:
    x = torch.from_numpy(line.copy())  # (64, 1024) uint8
    # the file's own decoding (LM beam search when it has one), and the best path alone
    best_path = 0 if hasattr(model, "set_beam") else None
    ours: list[float] = []
    greedy: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        path = Path(tmp) / "line.png"
        tesseract.padded(line).save(path)
        for _ in range(5):  # warm-up: TorchScript profiles and optimises its first calls
            timed_predict(model, x, None)
            timed_predict(model, x, best_path)
        tesseract.read_file(path)
        for _ in range(rounds):  # interleaved so all see the same machine state
            for _ in range(10):
                ours.append(timed_predict(model, x, None))
                greedy.append(timed_predict(model, x, best_path))
            t0 = time.perf_counter()
            tesseract.read_file(path)
            theirs.append(time.perf_counter() - t0)
    return {
        "ours": quantiles(ours),
        "ours_best_path": quantiles(greedy),
        "tesseract": quantiles(theirs),
        "shape": list(line.shape),
    }


def throughput(
    model: torch.jit.ScriptModule, lines: list[np.ndarray], jobs: int, rounds: int = 3
) -> dict[str, Any]:
    """Lines per second on all cores: batches of 16 for us, `jobs` processes for Tesseract."""
    torch.set_num_threads(jobs)
    order = sorted(lines, key=lambda a: a.shape[1])  # batches of similar width, as served
    batches = [
        [torch.from_numpy(a.copy()) for a in order[k : k + 16]] for k in range(0, len(order), 16)
    ]
    ours: list[float] = []
    theirs: list[float] = []
    with torch.inference_mode():
        served(model, batches[0])  # warm-up
        for _ in range(rounds):
            t0 = time.perf_counter()
            for b in batches:
                served(model, b)
            ours.append(len(lines) / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            tesseract.read_lines(lines, jobs)
            theirs.append(len(lines) / (time.perf_counter() - t0))
    return {
        "lines": len(lines),
        "threads": jobs,
        "ours_lines_per_s": round(statistics.median(ours), 1),
        "tesseract_lines_per_s": round(statistics.median(theirs), 1),
    }


def cold_start(model_path: Path, tesseract_call_ms: float, runs: int = 3) -> dict[str, Any]:
    """Fresh Lambda runtime process to first answer; Tesseract's is its per-call latency,
    since every CLI call starts a fresh process (no need to time it twice)."""
    body = lambda_load.line_event()
    ours = []
    for _ in range(runs):
        port = lambda_load.free_port()
        proc, seconds = lambda_load.start(port, body, workers=1, env=model_env(model_path))
        proc.terminate()
        proc.wait()
        ours.append(seconds)
    return {
        "ours_s": round(statistics.median(ours), 2),
        "tesseract_s": round(tesseract_call_ms / 1000, 2),
        "runs": runs,
    }


def model_env(model_path: Path) -> dict[str, str]:
    """The environment of a runtime that serves `model_path`."""
    return {**os.environ, "HTR_MODEL_PATH": str(model_path.resolve())}  # workers run elsewhere


def sizes(model_path: Path) -> dict[str, int]:
    """Bytes of the exported model and of Tesseract's English and French models."""
    return {
        "ours_bytes": model_path.stat().st_size,
        "tesseract_bytes": tesseract.traineddata_bytes(),
    }


def training_throughput(preset: str, steps: int) -> float | str:
    """Lines/s of `steps` training steps of a preset, in a fresh process (its own threads);
    the reason instead when the preset cannot train here (the full one needs the real lines)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{preset}-") as tmp:
        cmd = [sys.executable, "-m", "training.train", "--preset", preset, "--resume", "never"]
        cmd += ["--log.root", tmp, "--log.wandb", "disabled", "--trainer.max_steps", str(steps)]
        cmd += ["--data.synthetic_val", "32", "--trainer.max_time", "00:00:10:00"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            reason = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            log.warning("training %s failed: %s", preset, proc.stderr.strip()[-600:])
            return f"not measured: {reason[0][:160]}"
        summary = json.loads((Path(tmp) / preset / "summary.json").read_text())
    return round(summary["lines_per_s"], 1)


def reference_image(images: list[np.ndarray], aspect: float = 1024 / 64) -> np.ndarray:
    """The line whose own width/height is nearest 1024/64: scaled to the budget's shape, its
    writing keeps its proportions (a short word stretched to 1024 px would flatter the
    decoder, which spends its time on characters)."""
    if not images:
        raise ValueError("no line images to pick a reference line from")
    return min(images, key=lambda a: abs(a.shape[1] / a.shape[0] - aspect))


def reference_line() -> np.ndarray:
    """The 64x1024 line every latency figure is timed on: the real validation line nearest
    64x1024 in proportions, scaled to it; a synthetic one when the real sets are absent."""
    sets = eval_sets(0, 0, [])
    real = [s.image for lines in sets.values() for s in lines]
    if not real:
        real = [s.image for s in eval_sets(8, 0, [])["synthetic-test"]]
    return example_line(reference_image(real))


def example_line(image: np.ndarray, width: int = 1024, height: int = 64) -> np.ndarray:
    """A line scaled to exactly `height` x `width` (the budget's reference shape)."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
