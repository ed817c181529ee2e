"""recognize(): calibrated confidences, words and the unsure flag; older files still serve."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import pytest
import torch
from torch import nn

from serving import model
from serving.recognize import UNSURE_BELOW, recognize

REFERENCE = Path(__file__).resolve().parents[3] / "shared/models/htr-line-recognizer/model.pt"
LINES = [
    torch.full((40, 200), 255, dtype=torch.uint8),
    torch.full((30, 90, 3), 250, dtype=torch.uint8),
]


class OldStyle(nn.Module):
    """The serving contract before calibration: no read_lines, a raw confidence."""

    @torch.jit.export
    def predict_batch_with_confidence(self, images: List[torch.Tensor]) -> List[Tuple[str, float]]:  # noqa: UP006
        out: List[Tuple[str, float]] = []  # noqa: UP006
        for im in images:
            out.append(("two words", 0.79 if im.dim() == 2 else 0.3))
        return out

    @torch.jit.export
    def warmup(self) -> int:
        return 0


def test_a_calibrated_file_gives_probabilities_words_and_unsure(served_model):
    out = recognize(LINES)
    assert out["calibrated"] is True
    assert len(out["preds"]) == len(out["words"]) == len(out["unsure"]) == 2
    for text, conf, words, unsure in zip(
        out["preds"], out["confidences"], out["words"], out["unsure"], strict=True
    ):
        assert 0.0 <= conf <= 1.0 and unsure == (conf < UNSURE_BELOW)
        assert " ".join(w for w, _ in words) == " ".join(text.split())
        assert all(0.0 <= c <= 1.0 for _, c in words)


def _serve(path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HTR_MODEL_PATH", str(path))
    model.reset()


def test_a_file_from_before_calibration_still_serves(tmp_path, monkeypatch):
    path = tmp_path / "old.pt"
    torch.jit.save(torch.jit.script(OldStyle()), str(path))
    _serve(path, monkeypatch)
    try:
        out = recognize(LINES)
    finally:
        model.reset()
    assert out["calibrated"] is False and out["unsure"] == [False, False]
    assert out["preds"] == ["two words"] * 2 and out["confidences"] == [0.79, 0.3]
    assert out["words"] == [[["two", 0.79], ["words", 0.79]], [["two", 0.3], ["words", 0.3]]]


@pytest.mark.skipif(not REFERENCE.is_file(), reason="no reference model.pt in ../shared")
def test_the_published_reference_file_serves_uncalibrated(monkeypatch):
    _serve(REFERENCE, monkeypatch)
    try:
        out = recognize(LINES)
    finally:
        model.reset()
    assert out["calibrated"] is False and len(out["words"]) == 2
    assert all(0.0 <= c <= 1.0 for c in out["confidences"])
