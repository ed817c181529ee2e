"""`python -m bench.lm_text`: one network's outputs, an LM per choice of text, tuned alike."""

import json

from bench import decoding, lm_text
from tests.bench.test_decoding import _shard
from training.data import dictionary


def test_each_choice_gets_its_own_lm_and_tuning(tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        dictionary, "sentences", lambda: ("The leaves are opposite and the flowers white.",) * 50
    )
    for name in decoding.SETS:
        _shard(tmp_path / f"{name}-000.tar", 4)
    out = tmp_path / "lm_text.json"
    r = lm_text.run(tiny_model_file, tmp_path, out, ["dasher", "dasher,gcide"])
    assert json.loads(out.read_text()) == r
    plain, more = r["choices"]
    assert (plain["corpora"], more["corpora"]) == ("dasher", "dasher,gcide")
    assert more["lm_entries"] > plain["lm_entries"]  # the extra text's n-grams are in
    for c in r["choices"]:
        assert len(c["grid"]) == len(lm_text.ALPHAS) * len(lm_text.BETAS)
        assert c["best"] in [{"alpha": g["alpha"], "beta": g["beta"]} for g in c["grid"]]
        assert set(c["held_out"]) == set(decoding.SETS)
