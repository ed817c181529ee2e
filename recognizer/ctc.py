"""Greedy CTC decoding with a per-line confidence; TorchScript-compatible (export reuses it)."""

from __future__ import annotations

from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch


def greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor
) -> Tuple[List[List[int]], List[float]]:  # noqa: UP006
    """Best path per line: collapse repeats, drop blanks (class 0).

    log_probs (T, B, C), lengths (B,). Returns class ids per line and a confidence per line:
    the geometric mean of the best path's per-step probabilities (1.0 for an empty line).
    Blank frames dominate that mean, so it is not what a file serves as its confidence:
    recognizer.confidence scores the final reading instead.
    """
    best, ids = log_probs.max(dim=-1)  # (T, B), (T, B)
    ids_cpu = ids.t().cpu()
    best_cpu = best.t().float().cpu()
    out: List[List[int]] = []  # noqa: UP006
    conf: List[float] = []  # noqa: UP006
    for b in range(ids_cpu.size(0)):
        n = int(lengths[b])
        seq = ids_cpu[b, :n]
        keep = torch.ones_like(seq, dtype=torch.bool)
        if n > 1:
            keep[1:] = seq[1:] != seq[:-1]
        keep = keep & (seq != 0)
        kept: List[int] = seq[keep].tolist()  # noqa: UP006
        out.append(kept)
        conf.append(float(best_cpu[b, :n].mean().exp()) if n > 0 else 1.0)
    return out, conf
