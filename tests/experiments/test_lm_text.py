"""`python -m experiments.lm_text`: one network's outputs, an LM per choice of text, tuned alike."""

import json

import pytest

from experiments import decoding, lm_text
from htr.errors import ConfigError
from training.data import dictionary


def test_each_choice_gets_its_own_lm_and_tuning(tiny_model_file, doc_shard, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        dictionary, "sentences", lambda: ("The leaves are opposite and the flowers white.",) * 50
    )
    for name in decoding.SETS:
        doc_shard(tmp_path / f"{name}-000.tar", 4)
    out = tmp_path / "lm_text.json"
    r = lm_text.run(tiny_model_file, tmp_path, out, ["", "corpora=dasher,gcide", "order=4;beta=9"])
    assert json.loads(out.read_text()) == r
    plain, more, short = r["choices"]
    assert (plain["corpora"], more["corpora"]) == ("dasher,transcriptions", "dasher,gcide")
    assert (plain["order"], more["order"], short["order"]) == (6, 6, 4)
    assert more["lm_entries"] > plain["lm_entries"] > short["lm_entries"]
    for c in r["choices"]:
        assert len(c["grid"]) == len(lm_text.ALPHAS) * len(lm_text.BETAS)
        assert c["best"] in [{"alpha": g["alpha"], "beta": g["beta"]} for g in c["grid"]]
        assert set(c["held_out"]) == set(decoding.SETS)


def test_a_malformed_choice_says_how_to_write_one(
    tiny_model_file, doc_shard, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    for name in decoding.SETS:
        doc_shard(tmp_path / f"{name}-000.tar", 2)
    with pytest.raises(ConfigError, match="order7.*key=value"):
        lm_text.run(tiny_model_file, tmp_path, tmp_path / "x.json", ["order7"])
    with pytest.raises(ConfigError, match="decode.order"):
        lm_text.run(tiny_model_file, tmp_path, tmp_path / "x.json", ["order=9"])
