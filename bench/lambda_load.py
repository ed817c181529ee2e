"""Bounded load test of the Lambda handler on loopback, and its cold start.

`python -m bench.lambda_load` starts `lambda/local_runtime.py` (the Runtime API and
awslambdaric workers) on a free loopback port, times a fresh start to the first answer, then
sends a fixed number of requests at several concurrency levels and writes p50/p95/p99 latency
and errors to bench/lambda_load.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench.stats import quantiles
from htr.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
INVOKE = "/2015-03-31/functions/function/invocations"


def line_event(width: int = 1024) -> bytes:
    """A 64 x `width` greyscale line image as a direct-invocation event."""
    rng = np.random.default_rng(0)
    img = np.full((64, width), 235, np.uint8)
    img[24:44, 20 : width - 20] = rng.integers(0, 255, size=(20, width - 40)) // 4
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return json.dumps({"image": base64.b64encode(buf.getvalue()).decode()}).encode()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, body: bytes, timeout: float = 60) -> tuple[float, bool]:
    """One invocation: seconds taken and whether the function answered 200."""
    t0 = time.perf_counter()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{INVOKE}", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            ok = json.loads(resp.read()).get("statusCode") == 200
    except OSError:
        ok = False
    return time.perf_counter() - t0, ok


def start(
    port: int, body: bytes, workers: int, deadline: float = 120, env: dict | None = None
) -> tuple[subprocess.Popen, float]:
    """A fresh runtime process and the seconds from its start to its first answer."""
    t0 = time.perf_counter()
    log_file = tempfile.TemporaryFile()  # the runtime's stderr, shown if it never answers
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "lambda/local_runtime.py"),
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stderr=log_file,
        env=env,
    )
    while time.perf_counter() - t0 < deadline and proc.poll() is None:
        if call(port, body)[1]:
            return proc, time.perf_counter() - t0
        time.sleep(0.05)
    proc.terminate()
    proc.wait()
    log_file.seek(0)
    tail = log_file.read().decode(errors="replace")[-1500:]
    model = (env or os.environ).get("HTR_MODEL_PATH") or "model_repo/model.pt"
    raise RuntimeError(f"the runtime never answered (model {model}); its stderr:\n{tail}")


def level(port: int, body: bytes, concurrency: int, requests: int) -> dict:
    """Latency percentiles (ms) and errors for `requests` calls at `concurrency`."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda _: call(port, body), range(requests)))
    wall = time.perf_counter() - t0
    return {
        "concurrency": concurrency,
        "requests": requests,
        "errors": sum(not ok for _, ok in results),
        **quantiles([t for t, ok in results if ok], (50, 95, 99)),  # answered calls only
        "throughput_rps": round(requests / wall, 1),
    }


def run(
    levels: list[int], requests: int, workers: int, cold: bool = True, env: dict | None = None
) -> dict:
    """The cold start (one worker; `cold`) and every load level against `workers` workers."""
    body = line_event()
    result: dict = {"levels": []}
    if cold:
        proc, seconds = start(free_port(), body, workers=1, env=env)
        proc.terminate()
        proc.wait()
        result["cold_start_s"] = round(seconds, 2)
    port = free_port()
    proc, _ = start(port, body, workers, env=env)
    try:
        for _ in range(workers * 2):  # warm every worker before timing
            call(port, body)
        for c in levels:
            result["levels"].append(level(port, body, c, requests))
    finally:
        proc.terminate()
        proc.wait()
    result["workers"] = workers
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the cold start and the load levels; print and save the results."""
    p = argparse.ArgumentParser(prog="python -m bench.lambda_load", description=__doc__)
    p.add_argument("--levels", type=int, nargs="*", default=[1, 2, 4, 8])
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("bench/lambda_load.json"))
    args = p.parse_args(argv)
    result = run(args.levels, args.requests, args.workers)
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
