"""The numerics/layout bench: every variant trains, and the report says how to rerun it."""

from __future__ import annotations

from experiments import layout


def test_measure_times_real_steps_and_the_table_compares_to_float32():
    r = layout.measure({"cl": (True, True, False, 0.1, "channel")}, rounds=2)["cl"]
    assert len(r["rounds_ms"]) == 2
    assert r["ms_per_step"] > 0 and r["warmup_s"] > 0
    results = {"float32": {"ms_per_step": 200.0, "warmup_s": 1.0}, "bf16-mixed": r}
    md = layout.report(results, threads=2, compiled=False)
    assert "`python -m experiments.layout`" in md
    assert "| float32 | 200.0 | 80.0 | 1.00x | 1.0 |" in md
    assert f"{200.0 / r['ms_per_step']:.2f}x" in md
