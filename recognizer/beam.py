"""CTC prefix beam search with a character n-gram LM; TorchScript-compatible (export scripts it).

The LM is the two tables of `training.lm.build_tables`, read by `recognizer.lm_lookup`.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch

from recognizer.lm_lookup import after_index, extend_context, lm_query

# TorchScript functions cannot read module globals: these constants are written inline.
#   -1.0e30            log of zero
#   9007199254740881   a prime under 2**53: a prefix hash times 257 stays within int64
#   256                one CTC class per byte of an LM key (training.lm.RADIX)


def _lse(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b <= -1.0e30:
        return a
    return a + math.log1p(math.exp(b - a))


def _nth(scores: List[float], n: int) -> float:
    """The n-th largest of `scores`, or -1e30 if there are fewer."""
    if len(scores) < n:
        return -1.0e30
    ranked = scores.copy()
    ranked.sort(reverse=True)
    return ranked[n - 1]


class Beams:
    """Prefixes alive after a frame, or a frame's candidates: parallel lists (functions read
    them into locals first: an attribute read costs as much as the list read)."""

    def __init__(self) -> None:
        self.hashes: List[int] = []  # equal prefixes have equal hashes
        self.nodes: List[int] = []  # index into the trie (Trie)
        self.last: List[int] = []  # the prefix's last class (0: empty prefix)
        self.contexts: List[List[int]] = []  # LM contexts (lm_logp)
        self.pb: List[float] = []  # log p(prefix, path ends in blank)
        self.pnb: List[float] = []  # log p(prefix, path ends in its last char)
        self.lm: List[float] = []  # alpha * log p_lm + beta * length
        self.parent: List[int] = []  # candidates: the beam they come from
        self.char: List[int] = []  # and the class appended (0: a stay)


class Trie:
    """Every prefix ever kept, as (parent node, class); node 0 is the empty prefix."""

    def __init__(self) -> None:
        self.parent: List[int] = [-1]
        self.char: List[int] = [0]

    def classes(self, node: int) -> List[int]:
        out: List[int] = []
        while node > 0:
            out.append(self.char[node])
            node = self.parent[node]
        out.reverse()
        return out


def _stays(b: Beams, row: List[float]) -> Tuple[Beams, Dict[int, int], List[float]]:
    """The candidates of a frame that keep their prefix (blank or repeat), indexed by hash,
    and each beam's log p(prefix) before the frame."""
    hashes, last, pb, pnb = b.hashes, b.last, b.pb, b.pnb
    out = Beams()
    out.hashes = hashes.copy()
    out.lm = b.lm.copy()
    out.parent = list(range(len(hashes)))
    out.char = [0] * len(hashes)
    out_pb, out_pnb = out.pb, out.pnb
    index: Dict[int, int] = {}
    totals: List[float] = []
    for i in range(len(hashes)):
        index[hashes[i]] = i
        total = _lse(pb[i], pnb[i])
        totals.append(total)
        out_pb.append(total + row[0])
        out_pnb.append(pnb[i] + row[last[i]] if last[i] > 0 else -1.0e30)
    return out, index, totals


def _frame(b: Beams, row: List[float], chars: List[int], beta: float, n: int) -> Beams:
    """Every prefix stays (blank, repeat) or grows by one of `chars`; equal prefixes merge.

    New prefixes get the bonus `beta` but not yet their LM term (`_add_lm`). One that would
    score under all n stays even before its LM term (at most 0) cannot make the top n: it
    is not made, unless it merges into a stay."""
    out, index, totals = _stays(b, row)
    hashes, last, pb, lm = b.hashes, b.last, b.pb, b.lm
    c_hash, c_par, c_char = out.hashes, out.parent, out.char
    c_pb, c_pnb, c_lm = out.pb, out.pnb, out.lm
    floor = _nth([_lse(c_pb[j], c_pnb[j]) + c_lm[j] for j in range(len(hashes))], n)
    for i in range(len(hashes)):
        h, tail, blank_end, total = hashes[i], last[i], pb[i], totals[i]
        for c in chars:
            g = (h * 257 + c) % 9007199254740881
            p = (blank_end if c == tail else total) + row[c]
            j = index.get(g, -1)
            if j >= 0:
                c_pnb[j] = _lse(c_pnb[j], p)
            elif p + lm[i] + beta >= floor:
                index[g] = len(c_hash)
                c_hash.append(g)
                c_par.append(i)
                c_char.append(c)
                c_pb.append(-1.0e30)
                c_pnb.append(p)
                c_lm.append(lm[i] + beta)
    return out


def _add_lm(
    cand: Beams,
    prev: Beams,
    n: int,
    cache: Dict[int, float],
    tables: List[torch.Tensor],  # [keys, values, after]
    alpha: float,
) -> List[float]:
    """Add alpha * log p(char | prefix) to each new prefix: from `cache` (by the new prefix's
    hash), or from one LM call for those that can still make the top n; the others drop
    out. Returns every candidate's score.

    LM log-probabilities are at most 0, so a new prefix that scores under the n-th best
    fully scored candidate before its LM term cannot make the top n.
    """
    c_hash, c_char, c_par, c_lm = cand.hashes, cand.char, cand.parent, cand.lm
    c_pb, c_pnb = cand.pb, cand.pnb
    scores: List[float] = []
    known: List[float] = []  # full scores so far: stays, cached extensions
    pending: List[int] = []
    for j in range(len(c_hash)):
        if c_char[j] > 0:  # a new prefix: no path of it ends in a blank yet
            s = c_pnb[j] + c_lm[j]
            v = cache.get(c_hash[j], 1.0)  # 1.0: not asked yet (LM terms are at most 0)
            if v > 0.0:
                pending.append(j)
                scores.append(s)
                continue
            c_lm[j] += v
            s += v
        else:
            s = _lse(c_pb[j], c_pnb[j]) + c_lm[j]
        known.append(s)
        scores.append(s)
    floor = _nth(known, n)
    contexts = prev.contexts
    ctxs: List[int] = []  # flat (Q, order): one tensor from a flat list is the fast path
    nxt: List[int] = []
    at: List[int] = []
    for j in pending:
        if scores[j] < floor:
            c_lm[j] = -1.0e30
            scores[j] = -1.0e30
            continue
        ctxs.extend(contexts[c_par[j]])
        nxt.append(c_char[j])
        at.append(j)
    if len(nxt) > 0:
        q = torch.tensor(ctxs).view(len(nxt), -1)
        lm: List[float] = lm_query(tables[0], tables[1], q, torch.tensor(nxt), tables[2]).tolist()
        for k in range(len(nxt)):
            j, v = at[k], alpha * lm[k]
            cache[c_hash[j]] = v
            c_lm[j] += v
            scores[j] += v
    return scores


def _best(scores: List[float], n: int) -> List[int]:
    """Indices of the n highest scores: all above the n-th, then ties with it in order."""
    ranked = scores.copy()
    ranked.sort(reverse=True)
    floor = ranked[min(n, len(ranked)) - 1]
    best: List[int] = []
    for j in range(len(scores)):
        if scores[j] > floor:
            best.append(j)
    for j in range(len(scores)):
        if scores[j] == floor and len(best) < n:
            best.append(j)
    return best


def _keep(cand: Beams, scores: List[float], prev: Beams, trie: Trie, n: int) -> Beams:
    """The n best-scoring candidates (CTC times LM); new prefixes get a trie node and
    their LM context."""
    c_par, c_char = cand.parent, cand.char
    p_nodes, p_last, p_ctx = prev.nodes, prev.last, prev.contexts
    out = Beams()
    for j in _best(scores, n):
        i, c = c_par[j], c_char[j]
        out.hashes.append(cand.hashes[j])
        out.pb.append(cand.pb[j])
        out.pnb.append(cand.pnb[j])
        out.lm.append(cand.lm[j])
        if c == 0:
            out.nodes.append(p_nodes[i])
            out.last.append(p_last[i])
            out.contexts.append(p_ctx[i])
        else:
            trie.parent.append(p_nodes[i])
            trie.char.append(c)
            out.nodes.append(len(trie.char) - 1)
            out.last.append(c)
            out.contexts.append(extend_context(p_ctx[i], c))
    return out


def _blank_frame(b: Beams, row: List[float]) -> None:
    """A frame where no character is likely: every prefix stays, nothing merges."""
    pb, pnb, last = b.pb, b.pnb, b.last
    blank = row[0]
    for i in range(len(pb)):
        tail = last[i]
        stay = pnb[i] + row[tail] if tail > 0 else -1.0e30
        pb[i] = _lse(pb[i], pnb[i]) + blank
        pnb[i] = stay


def _candidates(log_probs: torch.Tensor, top_k: int, prune: float) -> List[List[int]]:
    """Per frame, the classes (blank excluded) among its `top_k` likeliest above `prune`."""
    cands: List[List[int]] = []
    for _ in range(log_probs.size(0)):
        none: List[int] = []
        cands.append(none)
    best, ids = log_probs[:, 1:].topk(min(top_k, log_probs.size(1) - 1), dim=1)  # (T, K)
    hits: List[List[int]] = (best > prune).nonzero().tolist()
    chars: List[List[int]] = ids.tolist()
    for tk in hits:
        cands[tk[0]].append(chars[tk[0]][tk[1]] + 1)
    return cands


def beam_search(
    log_probs: torch.Tensor,
    tables: List[torch.Tensor],  # [keys, values]
    order: int,
    beam: int,
    alpha: float,
    beta: float,
    prune: float,
    top_k: int = 8,
) -> List[int]:
    """Best class sequence of one line's CTC log-probabilities (T, C), blank 0, with the LM.

    Scores are log p_ctc + alpha * log p_lm + beta * length. At each frame only the `top_k`
    likeliest chars above `prune` are tried: frames where only the blank is likely cost
    almost nothing, and noise (every char equally likely) costs a bounded time. Prefixes
    that cannot make the beam are neither made nor sent to the LM: same result, less time.
    The code is written for TorchScript's interpreter, where every op costs about the same
    whatever it does: lists read into locals, few tensor ops per frame (docs/decoding.md).
    """
    if alpha < 0.0:  # the bounds that skip prefixes hold because an LM term is at most 0
        raise ValueError(f"LM weight alpha={alpha}; use 0 (no LM) or more")
    bos, eos = log_probs.size(1) + 1, log_probs.size(1)  # the LM's classes past the charset
    rows: List[List[float]] = log_probs.float().tolist()
    cands = _candidates(log_probs, top_k, prune)
    lm_tables = [tables[0], tables[1], after_index(order)]
    trie = Trie()
    b = Beams()
    b.hashes, b.nodes, b.last = [0], [0], [0]
    b.pb, b.pnb, b.lm = [0.0], [-1.0e30], [0.0]
    b.contexts = [([0, 256 * bos] + [-256] * order)[:order]]  # after "BOS"
    cache: Dict[int, float] = {}
    for t in range(len(rows)):
        if len(cands[t]) == 0:
            _blank_frame(b, rows[t])
            continue
        cand = _frame(b, rows[t], cands[t], beta, beam)
        if len(cand.hashes) == len(b.hashes):  # no new prefix: the stays are the beam
            cand.nodes, cand.last, cand.contexts = b.nodes, b.last, b.contexts
            b = cand
            continue
        scores = _add_lm(cand, b, beam, cache, lm_tables, alpha)
        b = _keep(cand, scores, b, trie, beam)
    ends: List[float] = lm_query(
        tables[0],
        tables[1],
        torch.tensor(b.contexts, dtype=torch.int64),
        torch.full([len(b.hashes)], eos, dtype=torch.int64),
        lm_tables[2],
    ).tolist()
    final = [_lse(b.pb[i], b.pnb[i]) + b.lm[i] + alpha * ends[i] for i in range(len(b.hashes))]
    return trie.classes(b.nodes[int(torch.tensor(final).argmax())])
