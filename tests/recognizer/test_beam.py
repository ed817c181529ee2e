"""CTC prefix beam search: finds the likeliest labelling, and lets the LM settle ambiguity."""

from __future__ import annotations

import pytest
import torch

from recognizer.beam import beam_search
from recognizer.ctc import greedy_decode
from training.data.charset import Charset
from training.lm import DecodeConfig, build_tables

CS = Charset()
N = len(CS)  # CTC classes, blank 0


def _frames(*frames: dict[str, float]) -> torch.Tensor:
    """(T, C) log-probabilities: each frame names its likely classes ("" is the blank)."""
    out = torch.full((len(frames), N), 1e-6)
    for t, frame in enumerate(frames):
        for ch, p in frame.items():
            out[t, 0 if ch == "" else CS.encode(ch)[0]] = p
    return (out / out.sum(1, keepdim=True)).log()


def _tables(lines: list[str]) -> list[torch.Tensor]:
    t = build_tables(DecodeConfig(order=4, min_count=1), CS, [(x, 1) for x in lines])
    return [t["keys"], t["values"]]


def _search(lp: torch.Tensor, tables, alpha: float = 0.0, beta: float = 0.0) -> str:
    return CS.decode(beam_search(lp, tables, 4, 8, alpha, beta, -8.0))


def test_sums_over_paths_where_the_best_path_does_not():
    lp = _frames({"": 0.6, "a": 0.4}, {"": 0.6, "a": 0.4})  # "" by best path, p = 0.36
    ids, _ = greedy_decode(lp[:, None], torch.tensor([2]))
    assert CS.decode(ids[0]) == ""
    assert _search(lp, _tables(["a"])) == "a"  # p("a") = 0.16 + 0.24 + 0.24 = 0.64


def test_without_the_lm_a_peaked_output_reads_as_greedy():
    lp = _frames(
        {"c": 0.9, "": 0.1}, {"": 0.95, "a": 0.05}, {"t": 0.8, "": 0.2}, {"t": 0.9, "": 0.1}
    )
    ids, _ = greedy_decode(lp[:, None], torch.tensor([4]))
    assert _search(lp, _tables(["dog"])) == CS.decode(ids[0]) == "ct"


def test_the_lm_settles_an_ambiguous_character():
    frames = [
        {"t": 0.9},
        {"h": 0.9},
        {"e": 0.9},
        {" ": 0.9},
        {"c": 0.45, "e": 0.55},
        {"a": 0.9},
        {"t": 0.9},
    ]
    lp = _frames(*[{**f, "": 0.05} for f in frames])
    tables = _tables(["the cat sat", "the cat ran", "a cat", "the cats"] * 3)
    assert _search(lp, tables) == "the eat"  # the network alone
    assert _search(lp, tables, alpha=0.5, beta=1.0) == "the cat"


def test_scripted_equals_eager_and_noise_stays_bounded():
    scripted = torch.jit.script(beam_search)
    tables = _tables(["the cat sat on the mat", "noise is not text"])
    noise = torch.randn(300, N, generator=torch.Generator().manual_seed(0)).log_softmax(1)
    args = (tables, 4, 6, 0.5, 1.0, -8.0, 4)
    got = scripted(noise, *args)
    assert got == beam_search(noise, *args)
    assert 0 < len(got) <= 300 and all(0 < c < N for c in got)


def test_prefixes_that_cannot_make_the_beam_skip_the_lm_and_change_nothing(monkeypatch):
    from recognizer import beam

    tables = _tables(["the cat sat on the mat", "a hat and a cat"])
    # mostly blank, as real lines are between characters: weak extensions are common
    logits = 2 * torch.randn(200, N, generator=torch.Generator().manual_seed(1))
    logits[:, 0] += 5
    lp = logits.log_softmax(1)
    asked: list[int] = []
    lm_query = beam.lm_query

    def counting(keys, values, contexts, nxt, after):
        asked.append(len(nxt))
        return lm_query(keys, values, contexts, nxt, after)

    monkeypatch.setattr(beam, "lm_query", counting)
    args = (tables, 4, 4, 0.5, 1.0, -6.0, 4)
    skipping = beam.beam_search(lp, *args)
    skipped = sum(asked)
    asked.clear()
    monkeypatch.setattr(beam, "_nth", lambda scores, n: -1.0e30)  # make and ask about all
    assert beam.beam_search(lp, *args) == skipping
    assert skipped < 0.8 * sum(asked)


def test_ties_at_the_cut_never_push_out_a_better_candidate():
    from recognizer.beam import _best

    assert sorted(_best([0.0, 0.0, 0.0, 2.0, 1.0], 3)) == [0, 3, 4]
    assert sorted(_best([0.5, 0.5], 6)) == [0, 1]


def test_a_negative_lm_weight_is_refused_with_the_value():
    with pytest.raises(ValueError, match="alpha=-0.5"):
        beam_search(_frames({"a": 0.9}), _tables(["a"]), 4, 4, -0.5, 0.0, -8.0)
