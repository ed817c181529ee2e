"""The whole-page measures on exact geometry and text: the cBAD baseline measure and page CER."""

import random

import numpy as np
import pytest

from bench import page_metrics as pm

LINE = [(0.0, 100.0), (1000.0, 100.0)]


def shifted(line, dy):
    return [(x, y + dy) for x, y in line]


def test_resample_keeps_both_ends_and_spacing():
    pts = pm.resample([(0, 0), (60, 0), (100, 0)])
    assert tuple(pts[0]) == (0, 0) and tuple(pts[-1]) == (100, 0)
    assert len(pts) == 20 and np.allclose(np.diff(pts[:, 0]), 100 / 19) and not pts[:, 1].any()
    bent = pm.resample([(0, 0), (100, 0), (100, 50)])
    assert len(bent) == 30 and tuple(bent[-1]) == (100, 50)
    assert len(pm.resample([(5, 5)])) == 1 and len(pm.resample([(5, 5), (5, 5)])) == 1


def test_point_score_is_full_within_tolerance_and_falls_to_zero_at_three_times_it():
    d = np.array([0, 10, 15, 20, 30, 40])
    assert pm.point_scores(d, 10).tolist() == [1, 1, 0.75, 0.5, 0, 0]


def test_identical_baselines_score_one():
    gt = [LINE, shifted(LINE, 80), [(50, 300), (500, 320), (900, 310)]]
    page = pm.baseline_page(gt, gt)
    assert (page["precision"], page["recall"], page["f1"]) == (1, 1, 1)
    assert page["found"] == 3 and sorted(g for _, g, _ in page["pairs"]) == [0, 1, 2]


def test_matching_ignores_the_order_of_the_lines():
    gt = [LINE, shifted(LINE, 80), shifted(LINE, 160)]
    page = pm.baseline_page(gt[::-1], gt)
    assert page["f1"] == 1 and {(h, g) for h, g, _ in page["pairs"]} == {(0, 2), (1, 1), (2, 0)}


@pytest.mark.parametrize(("dy", "score"), [(10, 1.0), (15, 0.75), (20, 0.5), (31, 0.0), (200, 0.0)])
def test_a_shift_scores_by_the_tolerance_falloff(dy, score):
    page = pm.baseline_page([shifted(LINE, dy)], [LINE])
    assert page["precision"] == pytest.approx(score) and page["recall"] == pytest.approx(score)
    assert page["found"] == (score >= pm.FOUND_F)


def test_the_tolerance_is_configurable():
    assert pm.baseline_page([shifted(LINE, 15)], [LINE], tol=20)["f1"] == 1
    assert pm.baseline_page([shifted(LINE, 15)], [LINE], tol=5)["f1"] == 0


def test_a_line_found_as_two_halves_counts_once():
    halves = [[(0, 100), (500, 100)], [(500, 100), (1000, 100)]]
    page = pm.baseline_page(halves, [LINE])
    # the matched half covers its GT line to x = 510 in full and to 530 in part: 0.52
    assert page["recall"] == pytest.approx(0.52, abs=0.01)
    assert page["precision"] == 0.5  # one hypothesis of two matched, all its points on the line
    assert page["found"] == 1 and len(page["pairs"]) == 1


def test_empty_pages():
    missed = pm.baseline_page([], [LINE, shifted(LINE, 80)])
    # nothing claimed, nothing wrong (the Transkribus tool's precision); F1 0 all the same
    assert (missed["precision"], missed["recall"], missed["f1"], missed["found"]) == (1, 0, 0, 0)
    extra = pm.baseline_page([LINE], [])
    assert (extra["precision"], extra["recall"], extra["f1"]) == (0, 1, 0)
    blank = pm.baseline_page([], [])
    assert (blank["precision"], blank["recall"], blank["f1"]) == (1, 1, 1)


def test_a_set_averages_its_pages():
    pages = [pm.baseline_page([LINE], [LINE]), pm.baseline_page([], [LINE, shifted(LINE, 80)])]
    s = pm.baseline_set(pages)
    assert (s["precision"], s["recall"]) == (1.0, 0.5)
    assert s["f1"] == pytest.approx(2 / 3) and s["found"] == pytest.approx(1 / 3)


def _dp(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_levenshtein():
    assert pm.levenshtein("kitten", "sitting") == 3
    assert pm.levenshtein("", "abc") == 3 and pm.levenshtein("abc", "") == 3
    assert pm.levenshtein("é\nà", "é\nà") == 0
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("ab c\n") for _ in range(rng.randint(0, 80)))
        b = "".join(rng.choice("abd ") for _ in range(rng.randint(0, 80)))
        assert pm.levenshtein(a, b) == _dp(a, b), (a, b)


def test_ordered_cer_counts_the_newlines_and_the_order():
    assert pm.cer_ordered(["le chat", "dort"], ["le chat", "dort"]) == (0, 12)
    assert pm.cer_ordered(["le ch", "at"], ["le chat"]) == (1, 7)  # a split line: one newline
    assert pm.cer_ordered(["dort", "le chat"], ["le chat", "dort"])[0] > 0
    assert pm.cer_ordered([], ["abc", "de"]) == (6, 6)


def test_order_free_cer_pairs_lines_whatever_their_order():
    assert pm.cer_order_free(["dort", "le chat"], ["le chat", "dort"]) == (0, 11)
    assert pm.cer_order_free(["le chat", "dorr"], ["dort", "le chat"]) == (1, 11)
    assert pm.cer_order_free(["abc"], ["abc", "de"]) == (2, 5)  # a missed line: deleted
    assert pm.cer_order_free(["abc", "xyz"], ["abc"]) == (3, 3)  # an extra line: inserted
    assert pm.cer_order_free([], ["abc"]) == (3, 3) and pm.cer_order_free(["ab"], []) == (2, 0)


def test_order_free_cer_with_given_pairs():
    # paired by geometry, a line read on the wrong GT line costs its edits there
    assert pm.cer_order_free(["abc", "de"], ["abc", "de"], pairs=[(0, 1), (1, 0)]) == (6, 5)
    assert pm.cer_order_free(["abc", "de"], ["abc", "de"], pairs=[(0, 0)]) == (4, 5)


def test_rate():
    assert pm.rate(1, 4) == 0.25 and pm.rate(3, 0) is None
