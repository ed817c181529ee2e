"""`python -m bench.errors`: edit operations and confusions of a model's predictions."""

import json

import numpy as np
import pytest

from bench import errors
from training import evaluate
from training.data.lines import LineSample
from training.data.webdataset import write_shard
from training.errors import DataError


@pytest.mark.parametrize(
    ("truth", "pred", "ops"),
    [
        ("cat", "cat", []),
        ("cat", "cut", [("S", "a", "u")]),
        ("rain", "ran", [("D", "i", "")]),
        ("rn", "rnn", [("I", "", "n")]),
        ("", "ab", [("I", "", "a"), ("I", "", "b")]),
        ("ab", "", [("D", "a", ""), ("D", "b", "")]),
    ],
)
def test_edit_ops_is_a_minimal_alignment(truth, pred, ops):
    assert errors.edit_ops(truth, pred) == ops


def test_edit_ops_counts_levenshtein_edits_on_ambiguous_alignments():
    ops = errors.edit_ops("minimum", "mmum")  # "ini" lost: which i is ambiguous
    assert len(ops) == 3 and {k for k, _, _ in ops} == {"D"}


def test_tally_counts_kinds_confusions_and_case_blind_cer():
    r = errors.tally(["The cat.", "rain"], ["the cut", "ran"])
    # "The cat." -> "the cut": T/t, a/u substituted, "." deleted; "rain" -> "ran": "i" deleted
    assert (r["substitutions"], r["deletions"], r["insertions"]) == (2, 2, 0)
    assert r["chars"] == 12 and r["cer"] == round(4 / 12, 4)
    # without case and punctuation only a/u and the lost "i" remain, of "the cat" + "rain"
    assert r["cer_without_case_and_punctuation"] == round(2 / 11, 4)
    assert {"kind": "D", "truth": "i", "pred": "", "count": 1} in r["top_confusions"]


def test_by_document_ranks_documents_by_their_errors():
    docs = ["a", "b", "a", "c"]
    truths = ["cat", "dog", "rain", "xy"]
    preds = ["cut", "dg", "rn", "xy"]  # a: 1 + 2 edits in 7 chars, b: 1 in 3, c: none
    rows = errors.by_document(docs, truths, preds)
    assert [r["doc"] for r in rows] == ["a", "b", "c"]
    assert rows[0] == {
        "doc": "a",
        "lines": 2,
        "chars": 7,
        "cer": round(3 / 7, 4),
        "share_of_errors": 0.75,
    }
    assert rows[1]["cer"] == round(1 / 3, 4) and rows[2]["cer"] == 0.0


def test_run_writes_a_tally_per_validation_set(tiny_model_file, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    lines = [
        LineSample(rng.integers(0, 256, (64, 80), dtype=np.uint8), "ab", doc=d)
        for d in ("letter-1", "letter-2", "letter-1")
    ]
    write_shard(lines, tmp_path / "alpha-val-000.tar")
    monkeypatch.setattr(evaluate, "REAL_VAL", f"{tmp_path}/*-val-*.tar")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "errors.json"
    r = errors.run(tiny_model_file, out)
    assert json.loads(out.read_text()) == r
    s = r["sets"]["alpha-val"]
    assert s["lines"] == 3 and s["chars"] == 6
    edits = s["substitutions"] + s["deletions"] + s["insertions"]
    assert s["cer"] == round(edits / 6, 4)
    docs = {d["doc"]: d for d in s["documents"]}
    assert sorted(docs) == ["letter-1", "letter-2"]
    assert (docs["letter-1"]["lines"], docs["letter-2"]["lines"]) == (2, 1)
    # the documents' errors are the set's: each line aligned once, counted once
    assert sum(round(d["cer"] * d["chars"]) for d in docs.values()) == edits
    assert sum(d["share_of_errors"] for d in docs.values()) == pytest.approx(1.0, abs=1e-3) or (
        edits == 0
    )


def test_run_names_the_missing_model(tmp_path):
    with pytest.raises(DataError, match="training.export"):
        errors.run(tmp_path / "nope.pt", tmp_path / "errors.json")
