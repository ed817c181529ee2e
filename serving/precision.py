"""Which precision a loaded model's network runs in on this CPU: the faster one, measured."""

from __future__ import annotations

import logging
import statistics
import time

import torch

log = logging.getLogger(__name__)


def _seconds(module: torch.jit.ScriptModule, x: torch.Tensor, bf16: bool) -> float:
    module.set_bf16(bf16)
    t0 = time.perf_counter()
    module.forward(x)
    return time.perf_counter() - t0


def bf16_kernels() -> bool:
    """Whether oneDNN has bf16 kernels on this CPU (the file's own check)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def choose_precision(module: torch.jit.ScriptModule, runs: int = 3) -> bool:
    """Keep a file's bfloat16 network only where it beats float32; returns whether it does."""
    # The file turns bf16 on wherever oneDNN offers it, which is every AVX-512 CPU, but only
    # CPUs with native bf16 are sure to gain; elsewhere oneDNN emulates it (why:
    # experiments/decoding.md, "The network in bfloat16").
    if not (hasattr(module, "set_bf16") and module.bf16):  # older files, or turned off
        return False
    if not bf16_kernels():  # the file runs float32 anyway
        module.set_bf16(False)
        log.info("network in float32: this CPU has no oneDNN bf16")
        return False
    x = torch.rand(1, 1, module.height, 16 * module.height)  # (B, 1, H, W): a long line
    bf16: list[float] = []
    fp32: list[float] = []
    try:
        with torch.inference_mode():
            for precision in (True, False):  # oneDNN builds its kernels on the first call
                _seconds(module, x, precision)
            for _ in range(runs):  # alternating: a drift in the CPU's speed hits both alike
                bf16.append(_seconds(module, x, True))
                fp32.append(_seconds(module, x, False))
    except RuntimeError as e:  # a layer without bf16 kernels here: float32 serves
        module.set_bf16(False)
        log.warning("network in float32: bf16 failed on this CPU (%s)", e)
        return False
    bf16_s, fp32_s = statistics.median(bf16), statistics.median(fp32)
    keep = bf16_s < fp32_s
    module.set_bf16(keep)
    log.info(
        "network in %s: %.1f ms in bf16, %.1f ms in float32 (median of %d, a %dx%d line)",
        "bf16" if keep else "float32",
        1e3 * bf16_s,
        1e3 * fp32_s,
        runs,
        module.height,
        16 * module.height,
    )
    return keep
