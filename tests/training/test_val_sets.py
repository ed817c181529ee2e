"""The unseen-writer CER: the mean of exactly the four named sets, or nothing."""

from __future__ import annotations

import pytest

from training.val_sets import REAL_VAL_SETS, UNSEEN_WRITER_SETS, summary, unseen_writer_cer

FOUR = {"copiste-val": 0.1, "poilus-val": 0.2, "cremma19-val": 0.3, "lectaurep-val": 0.6}
EXTRA = {"hooker-val": 0.25, "cremma18-val": 0.5, "synthetic-test": 0.05, "zeta-val": 0.9}


def test_the_figure_averages_exactly_the_four_sets_unweighted():
    assert set(UNSEEN_WRITER_SETS) == set(FOUR) and len(set(REAL_VAL_SETS)) == 6
    mean, missing = unseen_writer_cer({**FOUR, **EXTRA})
    assert mean == pytest.approx(0.3) and missing == []
    s = summary({**FOUR, **EXTRA})
    assert s["unseen_writer_cer"] == 0.3 and s["sets"] == list(UNSEEN_WRITER_SETS)
    assert s["seen_writer_cer"] == 0.25 and s["seen_sets"] == ["hooker-val"]
    assert s["beside"] == {"cremma18-val": 0.5} and s["missing"] == []


@pytest.mark.parametrize("absent", [["poilus-val"], ["copiste-val", "lectaurep-val"]])
def test_a_missing_set_gives_no_figure_and_names_the_set(absent):
    cers = {k: v for k, v in {**FOUR, **EXTRA}.items() if k not in absent}
    assert unseen_writer_cer(cers) == (None, absent)  # never the mean of the others
    s = summary(cers)
    assert s["unseen_writer_cer"] is None and s["missing"] == absent
    assert s["seen_writer_cer"] == 0.25


def test_nothing_real_gives_no_figure_and_no_seen_writer():
    s = summary({"synthetic-test": 0.05})
    assert s["unseen_writer_cer"] is None and s["missing"] == list(UNSEEN_WRITER_SETS)
    assert s["seen_writer_cer"] is None and s["beside"] == {}
