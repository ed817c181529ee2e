"""Which precision a loaded model's network runs in on this CPU: the faster one, measured."""

from __future__ import annotations

import logging
import statistics
import time

import torch

log = logging.getLogger(__name__)


def _median_seconds(module: torch.jit.ScriptModule, x: torch.Tensor, runs: int) -> float:
    module.forward(x)  # oneDNN builds its kernels on the first call of each shape
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        module.forward(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def choose_precision(module: torch.jit.ScriptModule, runs: int = 3) -> bool:
    """Keep a file's bfloat16 network only where it beats float32 here; returns whether it runs
    in bf16 now. The file turns bf16 on wherever oneDNN offers it, which is every AVX-512 CPU,
    but only CPUs with native bf16 are sure to gain (this host, AVX512_BF16: 7.1 against 10.1
    ms a line at best path, docs/decoding.md); elsewhere oneDNN emulates it."""
    if not (hasattr(module, "set_bf16") and module.bf16):  # older files, or turned off
        return False
    x = torch.rand(1, 1, module.height, 16 * module.height)  # (B, 1, H, W): a long line
    with torch.inference_mode():
        bf16 = _median_seconds(module, x, runs)
        module.set_bf16(False)
        fp32 = _median_seconds(module, x, runs)
    keep = bf16 < fp32
    module.set_bf16(keep)
    log.info(
        "network in %s: %.1f ms in bf16, %.1f ms in float32 on a %dx%d line",
        "bf16" if keep else "float32",
        1e3 * bf16,
        1e3 * fp32,
        module.height,
        16 * module.height,
    )
    return keep
