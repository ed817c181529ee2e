"""Re-bucketing drawn batches by the lines' actual widths."""

from __future__ import annotations

import numpy as np

from training.data.batching import Rebucketed, collate, rebucket


def _batches(n: int, size: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n):
        lines = []
        for i in range(size):
            w = int(rng.integers(40, 600))
            text = f"{b}-{i}"
            lines.append(
                (np.full((8, w), 255 - w % 200, np.uint8), [1 + w % 7] * (1 + i % 3), text)
            )
        out.append(collate(lines, pad_to=4))
    return out


def _lines(batches: list[dict]) -> dict[str, tuple]:
    """Every line by its text: (width, target, pixels) — what must survive re-bucketing."""
    out = {}
    for b in batches:
        ends = b["target_lengths"].cumsum(0).tolist()
        for i, text in enumerate(b["texts"]):
            w, n = int(b["widths"][i]), int(b["target_lengths"][i])
            target = tuple(b["targets"][ends[i] - n : ends[i]].tolist())
            out[text] = (w, target, b["images"][i, :, :, :w].numpy().tobytes())
    return out


def test_rebucket_keeps_every_line_and_cuts_padding():
    before = _batches(8, 16)
    after = rebucket(before, batch_size=16, pad_to=32)
    assert _lines(after) == _lines(before)
    assert all(b["images"].shape[-1] % 32 == 0 for b in after)
    padded = [sum(b["images"].shape[-1] * len(b["texts"]) for b in bs) for bs in (before, after)]
    assert padded[1] < 0.75 * padded[0]
    for b in after:  # images beyond each line's width are paper (0)
        for i, w in enumerate(b["widths"].tolist()):
            assert float(b["images"][i, :, :, w:].abs().sum()) == 0


def test_rebucketed_loader_yields_the_same_lines_per_epoch():
    loader = _batches(20, 4)
    wrapped = Rebucketed(loader, group=8, batch_size=4)
    out = list(wrapped)
    assert len(wrapped) == 20 and len(out) == 20
    assert _lines(out) == _lines(loader)
    assert [b["texts"] for b in out] == [b["texts"] for b in Rebucketed(loader, 8, 4)]
