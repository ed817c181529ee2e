"""Raw confidence of a decoded line from a CTC forced alignment; TorchScript-compatible.

The final labels (best path or LM beam search) are aligned to the network's log-probabilities
by Viterbi; each character's score is its best aligned frame's posterior, and each gap between
characters scores the least sure blank frame in it (a low one hides a dropped character).
Blank frames, most of any line, count only where they separate characters.
`recognizer.predictor` maps these raw scores to probabilities (experiments/calibration.md).
"""

from __future__ import annotations

from typing import List, Tuple  # noqa: UP035 - TorchScript needs typing's generics

import torch


def _extended(labels: List[List[int]], states: int) -> torch.Tensor:  # noqa: UP006
    """(B, S) CTC states of each line: blank, l1, blank, l2, ..., blank, padded with blanks."""
    ext = torch.zeros([len(labels), states], dtype=torch.int64)
    for b in range(len(labels)):
        if len(labels[b]) > 0:
            ext[b, 1 : 2 * len(labels[b]) : 2] = torch.tensor(labels[b], dtype=torch.int64)
    return ext


def forced_align(
    log_probs: torch.Tensor,
    labels: List[List[int]],  # noqa: UP006
    lengths: List[int],  # noqa: UP006
) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: UP006
    """Viterbi paths of each line's labels through log_probs (T, B, C), all lines at once.

    Returns the state per frame (T, B) (state 2k + 1 is label k, state 2k the blanks before
    it; frames from a line's length on are padding) and each path's log-probability (B,),
    -inf where the labels do not fit in the frames.
    """
    steps, batch = log_probs.size(0), log_probs.size(1)
    most = 0
    for ls in labels:
        most = max(most, len(ls))
    states = 2 * most + 1
    ext = _extended(labels, states)
    emit = log_probs.float().gather(2, ext[None].expand(steps, batch, states))  # (T, B, S)
    skip = torch.zeros([batch, states], dtype=torch.bool)
    if states > 3:  # label k may follow label k - 1 directly unless they are equal
        skip[:, 3:] = (ext[:, 3:] != 0) & (ext[:, 3:] != ext[:, 1:-2])
    # each state's window of predecessors (s - 2, s - 1, s): the skip only where allowed
    bias = torch.zeros([batch, states, 3])
    bias[:, :, 0].masked_fill_(~skip, float("-inf"))
    score = torch.full([steps, batch, states + 2], float("-inf"))  # two -inf columns in front
    score[0, :, 2:4] = emit[0, :, : min(2, states)]
    back = torch.zeros([steps, batch, states], dtype=torch.int64)  # 2 - predecessor offset
    for t in range(1, steps):  # few ops a frame: the loop runs in the interpreter
        best, arg = (score[t - 1].unfold(1, 3, 1) + bias).max(2)
        torch.add(best, emit[t], out=score[t, :, 2:])
        back[t] = arg
    return _backtrack(score, back, labels, lengths)


def _backtrack(
    score: torch.Tensor,
    back: torch.Tensor,
    labels: List[List[int]],  # noqa: UP006
    lengths: List[int],  # noqa: UP006
) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: UP006
    """Each line's best end state (its last label or the blanks after it), then back."""
    steps, batch = back.size(0), back.size(1)
    path = torch.zeros([steps, batch], dtype=torch.int64)
    total = torch.zeros([batch])
    for b in range(batch):
        n, last = lengths[b], 2 * len(labels[b])
        final = score[n - 1, b, 2:]
        s = last if last == 0 or bool(final[last] >= final[last - 1]) else last - 1
        total[b] = final[s]
        # in Python ints: tensor ops a frame would cost more than the list
        pointers: List[List[int]] = back[:n, b].tolist()  # noqa: UP006
        states: List[int] = [s] * n  # noqa: UP006
        for t in range(n - 1, 0, -1):
            s = max(0, s + pointers[t][s] - 2)  # (an impossible path ends anywhere)
            states[t - 1] = s
        path[:n, b] = torch.tensor(states, dtype=torch.int64)
    return path, total


def char_scores(
    log_probs: torch.Tensor,
    labels: List[int],  # noqa: UP006
    path: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:  # noqa: UP006
    """Log-scores of one line's (T, C) log_probs along its path (T,): each label's best frame
    (L,), and each gap's least sure blank frame (L + 1,; 0 for a gap without frames)."""
    n = len(labels)
    ext = torch.zeros([2 * n + 1], dtype=torch.int64)
    if n > 0:
        ext[1::2] = torch.tensor(labels, dtype=torch.int64)
    post = log_probs.float().gather(1, ext[path][:, None])[:, 0]  # (T,)
    odd = path % 2 == 1
    chars = torch.full([n], float("-inf")).scatter_reduce(
        0, (path[odd] - 1) // 2, post[odd], "amax", include_self=False
    )
    gaps = torch.zeros([n + 1]).scatter_reduce(
        0, path[~odd] // 2, post[~odd], "amin", include_self=False
    )
    return chars, gaps


def line_score(chars: torch.Tensor, gaps: torch.Tensor) -> float:
    """One minus the expected errors per character: each character may be wrong (1 - its
    posterior) and each gap may hide a dropped one (1 - its blank posterior); 0..1. An empty
    reading scores 0: a line image is sent to be read, and confident blanks (a whole page
    squeezed into a few frames, say) do not make an empty reading right."""
    if chars.numel() == 0:
        return 0.0
    errors = float((1.0 - chars.exp()).sum() + (1.0 - gaps.exp()).sum())
    return min(1.0, max(0.0, 1.0 - errors / (chars.numel() + 1)))


def word_scores(
    labels: List[int],  # noqa: UP006
    chars: torch.Tensor,
    gaps: torch.Tensor,
    space: int,
) -> List[Tuple[int, int, float]]:  # noqa: UP006
    """(start, end, score) of each run of labels other than `space`: the product of its
    characters' posteriors and of the blank posteriors in and around it (all read right)."""
    spans: List[Tuple[int, int, float]] = []  # noqa: UP006
    start = -1
    for k in range(len(labels) + 1):
        inside = k < len(labels) and labels[k] != space
        if inside and start < 0:
            start = k
        elif not inside and start >= 0:
            score = float((chars[start:k].sum() + gaps[start : k + 1].sum()).exp())
            spans.append((start, k, score))
            start = -1
    return spans


def interp(x: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear map through knots (xs increasing), constant beyond them: np.interp."""
    if xs.numel() == 1:
        return torch.full_like(x, float(ys[0]), dtype=ys.dtype)
    i = torch.searchsorted(xs, x.to(xs.dtype), right=True).clamp(1, xs.numel() - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    w = ((x.to(xs.dtype) - x0) / (x1 - x0)).clamp(0.0, 1.0)
    return y0 + w * (y1 - y0)
