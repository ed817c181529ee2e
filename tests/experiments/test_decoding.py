"""`python -m experiments.decoding`: tuned on half the documents, scored on the other half."""

import json

from experiments import decoding


def test_tunes_on_one_half_and_reports_the_other(tiny_model_file, doc_shard, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in decoding.SETS:
        doc_shard(tmp_path / f"{name}-000.tar", 6)
        doc_shard(tmp_path / f"{name.removesuffix('-val')}-train-000.tar", 2)
    out = tmp_path / "decoding.json"
    r = decoding.run(tiny_model_file, tmp_path, out)
    assert json.loads(out.read_text()) == r
    docs = [f"d{d}" for d in range(6)]
    assert any(map(decoding.tuning_half, docs)) and not all(map(decoding.tuning_half, docs))
    assert len(r["grid"]) == 20 and set(r["held_out"]) == set(decoding.SETS)
    assert r["best"] in [{"alpha": g["alpha"], "beta": g["beta"]} for g in r["grid"]]
    assert [row["beam"] for row in r["trade_off"]] == [0, 2, 3, 4, 6]
    assert all(0 <= row["hooker-val"] for row in r["trade_off"])
    assert r["text_overlap"]["copiste-val"] == {"20-grams_seen": 0.0, "lines_seen": 1.0}
