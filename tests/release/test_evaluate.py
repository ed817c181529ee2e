"""Which sets the evaluation scores: one per real validation set, all its shards together."""

import json
import logging

import numpy as np
import pytest

from release import evaluate
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


class _Reader:
    """Stands in for model.pt: reads every line right with its LM (beam > 0), none without."""

    def __init__(self, truth: dict[int, str]) -> None:
        self.beam, self.truth = 6, truth

    def set_beam(self, width: int) -> int:
        previous, self.beam = self.beam, width
        return previous

    def predict_batch(self, images: list) -> list[str]:
        return [self.truth[int(im[0, 0])] if self.beam else "?" for im in images]


def _scored(tmp_path, monkeypatch, beam):
    lines = [LineSample(np.full((64, 40 + i), i, np.uint8), f"line {i}", doc="d") for i in range(3)]
    write_shard(lines, tmp_path / "gamma-train-000.tar")
    reader = _Reader({i: f"line {i}" for i in range(3)})
    monkeypatch.setattr(evaluate, "REAL_VAL", f"{tmp_path}/absent/*-val-*.tar")
    monkeypatch.setattr(evaluate, "load_exported", lambda path: (reader, {"version": "v"}))
    extra = [str(tmp_path / "gamma-train-000.tar")]
    return evaluate.evaluate(tmp_path / "m.pt", tmp_path / "e.json", 0, extra=extra, beam=beam)


def test_beam_flag_scores_best_path_and_records_the_width(tmp_path, monkeypatch):
    own = _scored(tmp_path, monkeypatch, None)
    assert own["beam"] == 6 and own["sets"]["gamma-train-000"]["cer"] == 0.0
    best_path = _scored(tmp_path, monkeypatch, 0)
    assert best_path["beam"] == 0 and best_path["sets"]["gamma-train-000"]["cer"] > 0.5


def test_negative_beam_is_refused_with_the_remedy(capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--beam", "-1"])
    assert e.value.code == 2
    assert "use 0 (best path" in capsys.readouterr().err


TRUTH = "abcdefghij"
# set -> wrong characters out of ten in the reader's one line: a CER of a tenth of that
ERRORS = {
    "copiste-val": 1,
    "poilus-val": 2,
    "cremma19-val": 3,
    "lectaurep-val": 4,
    "hooker-val": 5,
    "cremma18-val": 6,
    "zeta-val": 9,  # a real val set outside the definition
}


class _Misreader(_Reader):
    """Reads set k's line (its pixels hold k) with ERRORS[k] characters wrong."""

    def predict_batch(self, images: list) -> list[str]:
        return [self.truth[int(im[0, 0])] for im in images]


def _summary(tmp_path, monkeypatch, absent: tuple[str, ...] = ()) -> dict:
    """eval.json's summary for one line per set of ERRORS, less the `absent` sets."""
    preds = {}
    for k, (name, wrong) in enumerate(ERRORS.items()):
        preds[k] = "x" * wrong + TRUTH[wrong:]
        if name not in absent:
            line = LineSample(np.full((64, 80), k, np.uint8), TRUTH, doc=name)
            write_shard([line], tmp_path / f"{name}-000.tar")
    monkeypatch.setattr(evaluate, "REAL_VAL", f"{tmp_path}/*-val-*.tar")
    monkeypatch.setattr(evaluate, "load_exported", lambda path: (_Misreader(preds), {}))
    out = tmp_path / "eval.json"
    results = evaluate.evaluate(tmp_path / "m.pt", out, synthetic=0)
    assert json.loads(out.read_text()) == results
    assert {k: r["cer"] for k, r in results["sets"].items()} == {
        k: v / 10 for k, v in ERRORS.items() if k not in absent
    }
    return results["summary"]


def test_eval_json_carries_the_unseen_writer_cer_of_exactly_the_four_sets(
    tmp_path, monkeypatch, caplog
):
    with caplog.at_level(logging.INFO, logger="release.evaluate"):
        s = _summary(tmp_path, monkeypatch)
    assert s == {
        "unseen_writer_cer": 0.25,  # (0.1 + 0.2 + 0.3 + 0.4) / 4: hooker, cremma18, zeta left out
        "sets": ["copiste-val", "poilus-val", "cremma19-val", "lectaurep-val"],
        "missing": [],
        "seen_writer_cer": 0.5,
        "seen_sets": ["hooker-val"],
        "beside": {"cremma18-val": 0.6},
    }
    assert "unseen-writer CER 25.00% (mean of copiste-val, poilus-val" in caplog.text
    assert "hooker-val 50.00% (seen writer)" in caplog.text


def test_eval_json_has_no_unseen_writer_cer_when_a_set_is_missing(tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="release.evaluate"):
        s = _summary(tmp_path, monkeypatch, absent=("poilus-val",))
    assert s["unseen_writer_cer"] is None and s["missing"] == ["poilus-val"]
    assert s["seen_writer_cer"] == 0.5
    assert "unseen-writer CER not given: poilus-val missing" in caplog.text
