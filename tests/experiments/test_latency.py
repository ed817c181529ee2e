"""experiments.latency: exported files timed alternately on one line."""

import json
import shutil

import numpy as np

from experiments import latency


def test_two_files_are_timed_in_turns_with_and_without_their_decoding(
    tiny_model_file, tmp_path, monkeypatch
):
    other = tmp_path / "other.pt"
    shutil.copy(tiny_model_file, other)
    line = np.full((64, 1024), 255, np.uint8)
    line[20:40, 100:900:7] = 0
    monkeypatch.setattr(latency, "reference_line", lambda: line)
    out = tmp_path / "latency.json"
    assert latency.main([str(tiny_model_file), str(other), "--rounds", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["shape"] == [64, 1024] and set(result["models"]) == {
        str(tiny_model_file),
        str(other),
    }
    for r in result["models"].values():
        assert r["own"]["p50_ms"] > 0 and r["best_path"]["p50_ms"] > 0


def test_a_missing_file_is_named(tmp_path, caplog):
    assert latency.main([str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt does not exist" in caplog.text
