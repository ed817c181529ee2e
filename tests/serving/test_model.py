"""The process-wide model: lazy, loaded once, thread-safe, replaceable."""

from __future__ import annotations

import threading

import pytest
import torch

from serving import model
from serving.errors import BadRequest, ModelUnavailable
from serving.recognize import recognize


def test_loaded_once_across_threads(served_model, monkeypatch):
    calls = []
    real = model.load

    def counting_load(path=None):
        calls.append(1)
        return real(path)

    monkeypatch.setattr(model, "load", counting_load)
    threads = [threading.Thread(target=model.get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and model.get() is model.get()


def test_recognize_returns_texts_confidences_and_revision(served_model):
    out = recognize(
        [
            torch.full((40, 200), 255, dtype=torch.uint8),
            torch.full((30, 90, 3), 250, dtype=torch.uint8),
        ]
    )
    assert len(out["preds"]) == 2 and all(isinstance(p, str) for p in out["preds"])
    assert all(0.0 <= c <= 1.0 for c in out["confidences"])
    assert out["revision"] != "unknown" and out["model"] and out["timing_ms"]["predict"] >= 0


def test_missing_model_is_our_error_with_a_remedy(monkeypatch, tmp_path):
    monkeypatch.setenv("HTR_MODEL_PATH", str(tmp_path / "none.pt"))
    model.reset()
    with pytest.raises(ModelUnavailable, match="release.export"):
        model.get()
    model.reset()


def test_empty_and_oversized_batches_are_refused(served_model):
    with pytest.raises(BadRequest, match="no image"):
        recognize([])
    with pytest.raises(BadRequest, match="at most 32"):
        recognize([torch.zeros(8, 8, dtype=torch.uint8)] * 33)
