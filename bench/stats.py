"""Latency percentiles, one definition for every bench table."""

from __future__ import annotations

import statistics


def quantiles(seconds: list[float], points: tuple[int, ...] = (50, 95)) -> dict[str, float]:
    """Percentiles in milliseconds: the median for p50, the nearest measured rank otherwise
    (never beyond the slowest call); NaN when nothing was measured."""
    ms = sorted(1000 * s for s in seconds)
    out = {}
    for p in points:
        if not ms:
            value = float("nan")
        elif p == 50:
            value = statistics.median(ms)
        else:
            value = ms[min(len(ms) - 1, int(p / 100 * len(ms)))]
        out[f"p{p}_ms"] = round(value, 1)
    return out
