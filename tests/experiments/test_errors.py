"""`python -m experiments.errors`: edit operations and confusions of a model's predictions."""

import json

import numpy as np
import pytest

from experiments import errors
from htr.errors import DataError
from release import evaluate
from training.data.charset import normalize_text
from training.data.lines import LineSample
from training.data.webdataset import write_shard


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
    r = errors.run(tiny_model_file, out, band=2)
    assert json.loads(out.read_text()) == r
    s = r["sets"]["alpha-val"]
    # 80 px for 2 characters: every line is wide for its text (40 px a character)
    assert s["band"]["zoomed_lines"] == 3 and s["band"]["ordinary_cer"] is None
    assert sum(b["lines"] for b in s["by_px_per_char"]) == 3
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
    with pytest.raises(DataError, match="release.export"):
        errors.run(tmp_path / "nope.pt", tmp_path / "errors.json")


def test_by_width_buckets_lines_by_pixels_per_character():
    truths = ["ab", "abcd", "xy"]
    ops = [[("S", "a", "e")], [], [("D", "x", ""), ("D", "y", "")]]
    rows = {r["px_per_char"]: r for r in errors.by_width([10.0, 14.0, 40.0], truths, ops)}
    assert rows["0-12"] == {
        "px_per_char": "0-12",
        "lines": 1,
        "chars": 2,
        "cer": 0.5,
        "share_of_errors": round(1 / 3, 4),
    }
    assert rows["12-16"]["cer"] == 0.0 and rows["32-inf"]["cer"] == 1.0
    assert rows["16-20"]["lines"] == 0 and sum(r["lines"] for r in rows.values()) == 3


def test_px_per_char_is_measured_at_64_px():
    line = LineSample(np.zeros((32, 100), np.uint8), "abcd")
    assert errors.px_per_char(line, "abcd") == 50.0


def test_banded_lines_are_zoomed_bands_of_the_ink():
    img = np.full((64, 300), 230, np.uint8)
    img[20:44, 30:270:3] = 20  # ink in rows 20-43 and columns 30-267
    cut = errors.banded([LineSample(img, "text", doc="d")] * 3)
    for s in cut:
        h, w = s.image.shape
        # the box with its 1-px margin: 26 rows, 240 columns; a band of 8-16 of its rows
        # zoomed back to 26 rows is 390-780 columns wide
        assert s.text == "text" and s.doc == "d" and h == 26 and 390 <= w <= 780
    assert len({s.image.shape[1] for s in cut}) > 1  # each line its own band


def test_band_check_reads_the_zoomed_lines_the_ordinary_ones_and_those_cut(monkeypatch):
    wide = LineSample(np.full((64, 400), 200, np.uint8), "ab", doc="d")  # 200 px a character
    ink = np.full((64, 200), 230, np.uint8)
    ink[20:44, 10:190:3] = 20
    narrow = [LineSample(ink, "abcdefghijklmnop", doc="d") for _ in range(3)]  # 12.5 px
    seen: list[list[LineSample]] = []

    def fake_predict(model, lines):
        seen.append(lines)
        return ["ab"] * len(lines)

    monkeypatch.setattr(errors, "predict_all", fake_predict)
    lines = [wide, *narrow]
    widths = [errors.px_per_char(s, normalize_text(s.text)) for s in lines]
    r = errors.band_check(None, lines, widths, 2)
    assert (r["zoomed_lines"], r["ordinary_lines"]) == (1, 2)
    zoomed, ordinary, cut = seen
    assert zoomed == [wide] and len(ordinary) == 2 and all(s in narrow for s in ordinary)
    assert [s.text for s in cut] == [s.text for s in ordinary]
    assert all(c.image.shape[1] > 1.6 * 180 for c in cut)  # banded: zoomed from the ink box
    assert r["zoomed_cer"] == 0.0 and r["ordinary_cer"] == r["ordinary_cut_cer"] == 0.875


def test_by_width_reports_no_cer_for_an_empty_bucket():
    rows = errors.by_width([10.0], ["ab"], [[]])
    assert rows[0]["cer"] == 0.0 and all(r["cer"] is None for r in rows[1:])


def test_a_negative_band_is_refused(capsys):
    with pytest.raises(SystemExit):
        errors.main(["--band", "-1"])
    assert "--band -1" in capsys.readouterr().err


def test_cut_band_keeps_a_zoomed_band_of_the_rows():
    img = np.full((48, 300), 230, np.uint8)
    img[:4] = 0  # the top tenth holds ascenders only: a band never starts there
    img[20:30, 20:280:4] = 25
    for seed in range(20):
        out = errors.cut_band(img, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.shape[0] == 48
        # 30-60% of the rows zoomed to 48: 1.7-3.3x as wide
        assert 300 * 1.6 < out.shape[1] < 300 * 3.4, out.shape
        assert out[:3].min() > 0  # the all-black top rows were left out
    wide = errors.cut_band(np.full((48, 3000), 200, np.uint8), np.random.default_rng(0))
    assert wide.shape[1] == 4096
