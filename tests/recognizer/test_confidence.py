"""The forced alignment and raw scores of recognizer.confidence, eager and scripted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from recognizer.confidence import char_scores, forced_align, interp, line_score, word_scores
from recognizer.ctc import greedy_decode


def _collapse(path: tuple[int, ...]) -> list[int]:
    out, prev = [], 0
    for c in path:
        if c != 0 and c != prev:
            out.append(c)
        prev = c
    return out


def _brute_force(lp: torch.Tensor, labels: list[int]) -> float:
    """The best log-probability of any frame path that collapses to `labels`."""
    best = float("-inf")
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        if _collapse(path) == labels:
            best = max(best, float(sum(lp[t, c] for t, c in enumerate(path))))
    return best


@pytest.mark.parametrize("scripted", [False, True])
def test_viterbi_score_is_the_best_path_of_those_labels(scripted):
    align = torch.jit.script(forced_align) if scripted else forced_align
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(6, 3, 3, generator=g).log_softmax(-1)  # T 6, B 3, C 3
    labels = [[1, 1], [2, 1, 2], []]
    path, total = align(lp, labels, [6, 5, 4])
    for b, n in enumerate([6, 5, 4]):
        assert float(total[b]) == pytest.approx(_brute_force(lp[:n, b], labels[b]), abs=1e-5)
        states = path[:n, b]
        ext = [0] + [x for c in labels[b] for x in (c, 0)]
        assert float(lp[torch.arange(n), b, torch.tensor(ext)[states]].sum()) == pytest.approx(
            float(total[b]), abs=1e-5
        )
        assert _collapse(tuple(ext[s] for s in states.tolist())) == labels[b]


def test_labels_that_do_not_fit_score_minus_infinity():
    lp = torch.randn(3, 1, 4).log_softmax(-1)
    path, total = forced_align(lp, [[1, 1, 1]], [3])  # 5 frames: a blank between repeats
    assert torch.isinf(total[0])
    chars, gaps = char_scores(lp[:, 0], [1, 1, 1], path[:, 0])  # some path, in range
    assert chars.shape == (3,) and gaps.shape == (4,)


def test_best_path_labels_align_to_the_best_path():
    lp = torch.randn(40, 2, 6, generator=torch.Generator().manual_seed(1)).log_softmax(-1)
    ids, _ = greedy_decode(lp, torch.tensor([40, 31]))
    _, total = forced_align(lp, ids, [40, 31])
    best = lp.max(-1).values
    assert float(total[0]) == pytest.approx(float(best[:40, 0].sum()), abs=1e-4)
    assert float(total[1]) == pytest.approx(float(best[:31, 1].sum()), abs=1e-4)


def test_scores_read_the_characters_and_gaps():
    # frames: blank, a, a, blank(0.6), b, blank; classes: 0 blank, 1 a, 2 b
    p = torch.tensor(
        [
            [0.9, 0.05, 0.05],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.6, 0.1, 0.3],
            [0.1, 0.1, 0.8],
            [0.95, 0.03, 0.02],
        ]
    )
    path, _ = forced_align(p.log()[:, None], [[1, 2]], [6])
    chars, gaps = char_scores(p.log(), [1, 2], path[:, 0])
    assert chars.exp().tolist() == pytest.approx([0.8, 0.8])  # each character's best frame
    assert gaps.exp().tolist() == pytest.approx([0.9, 0.6, 0.95])  # each gap's least sure
    errors = (0.2 + 0.2) + (0.1 + 0.4 + 0.05)
    assert line_score(chars, gaps) == pytest.approx(1 - errors / 3)
    assert line_score(chars[:0], gaps[:1]) == 0.0  # nothing read: never a sure reading


def test_words_are_runs_of_non_spaces():
    chars, gaps = torch.log(torch.full([6], 0.9)), torch.zeros(7)
    spans = word_scores([1, 2, 9, 9, 3, 9], chars, gaps, 9)  # "ab  c "
    assert [(a, b) for a, b, _ in spans] == [(0, 2), (4, 5)]
    assert spans[0][2] == pytest.approx(0.81) and spans[1][2] == pytest.approx(0.9)
    assert word_scores([], chars[:0], gaps[:1], 9) == []


@pytest.mark.parametrize("knots", [2, 7, 1])
def test_scripted_interpolation_matches_numpy(knots):
    rng = np.random.default_rng(knots)
    xs = np.sort(rng.uniform(0.2, 0.9, knots))
    ys = np.sort(rng.uniform(0, 1, knots))
    x = np.concatenate([rng.uniform(0, 1, 200), xs, [0.0, 1.0]])
    scripted = torch.jit.script(interp)
    got = scripted(torch.from_numpy(x), torch.from_numpy(xs), torch.from_numpy(ys)).numpy()
    np.testing.assert_allclose(got, np.interp(x, xs, ys), atol=1e-12)
