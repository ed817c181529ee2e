"""Which sets the evaluation scores: one per real validation set, all its shards together."""

import numpy as np

from training import evaluate
from training.data.lines import LineSample
from training.data.webdataset import write_shard


def _lines(n: int, tag: str) -> list[LineSample]:
    img = np.full((64, 120), 235, np.uint8)
    return [LineSample(img, f"{tag} {i}", doc=f"{tag}-{i}") for i in range(n)]


def test_real_sets_group_their_shards_by_name(tmp_path, monkeypatch):
    write_shard(_lines(3, "a0"), tmp_path / "alpha-val-000.tar")
    write_shard(_lines(2, "a1"), tmp_path / "alpha-val-001.tar")
    write_shard(_lines(4, "b"), tmp_path / "beta-val-000.tar")
    write_shard(_lines(5, "t"), tmp_path / "alpha-train-000.tar")  # not a validation shard
    monkeypatch.setattr(evaluate, "REAL_VAL", f"{tmp_path}/*-val-*.tar")
    sets = evaluate.eval_sets(synthetic=2, seed=0, extra=[str(tmp_path / "beta-val-000.tar")])
    assert {k: len(v) for k, v in sets.items()} == {
        "synthetic-test": 2,
        "alpha-val": 5,
        "beta-val": 4,
        "beta-val-000": 4,
    }


def test_missing_real_folder_scores_synthetic_only(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "REAL_VAL", f"{tmp_path}/absent/*-val-*.tar")
    assert list(evaluate.eval_sets(synthetic=1, seed=0, extra=[])) == ["synthetic-test"]
