"""CTC prefix beam search with a character n-gram LM; TorchScript-compatible (export scripts it).

The LM is the two tables of `training.lm.build_tables`: sorted int64 keys whose bytes are
CTC classes (the last symbol lowest), and their log p(next | context) or log back-off weight.
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch

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


def lm_logp(
    keys: torch.Tensor, values: torch.Tensor, contexts: torch.Tensor, nxt: torch.Tensor
) -> torch.Tensor:
    """log p(nxt | context) for (Q,) next classes and (Q, N) contexts.

    Column j of `contexts` is 256 times the key of the last j symbols (column 0 is 0, the
    empty context), or -256 where the line starts less than j symbols back: its queries are
    negative and match nothing. `keys` holds n-grams (context * 256 + class) and contexts
    (context * 256 + 255, whose value is the log back-off weight), sorted, ending in a
    sentinel. Few tensor ops: at one call per frame, their overhead is the search's cost.
    """
    n = contexts.size(1)
    query = torch.cat([contexts + nxt[:, None], contexts + 255], 1)  # (Q, 2N)
    pos = torch.searchsorted(keys, query)
    hit = keys[pos] == query
    # The found n-grams are the first columns (training.lm keeps the suffix of every n-gram
    # it keeps): the longest is the one whose next column misses, and the back-off weights
    # to add are those of the contexts whose n-gram missed. Column n, the empty context's
    # weight, is never stored: it is the miss after the longest order.
    after = torch.arange(1, 2 * n + 1) % (n + 1)  # [1, ..., n, 0, ..., n - 1]
    return (values[pos] * (hit & ~hit[:, after])).sum(1)


def _extend(contexts: List[int], c: int) -> List[int]:
    """Contexts of a prefix after appending class `c` (see `lm_logp`)."""
    out = [0]
    for j in range(1, len(contexts)):
        out.append(256 * (c + contexts[j - 1]) if contexts[j - 1] >= 0 else -256)
    return out


def _nth(scores: List[float], n: int) -> float:
    """The n-th largest of `scores`, or -1e30 if there are fewer."""
    if len(scores) < n:
        return -1.0e30
    scores.sort(reverse=True)
    return scores[n - 1]


def _add_lm(
    cand: "Beams",
    prev: "Beams",
    n: int,
    cache: Dict[int, Dict[int, float]],
    tables: List[torch.Tensor],  # [keys, values]
    alpha: float,
) -> None:
    """Add alpha * log p(char | prefix) to each new prefix: from `cache`, or from one LM call
    for those that can still make the top n; the others drop out.

    LM log-probabilities are at most 0, so a new prefix that scores under the n-th best
    fully scored candidate before its LM term cannot make the top n.
    """
    known: List[float] = []  # full scores so far: prefixes that stay, cached extensions
    pending: List[int] = []
    for j in range(len(cand.hashes)):
        c = cand.char[j]
        if c > 0:
            h = prev.hashes[cand.parent[j]]
            if h not in cache:
                fresh: Dict[int, float] = {}
                cache[h] = fresh
            scores = cache[h]
            if c not in scores:
                pending.append(j)
                continue
            cand.lm[j] += scores[c]
        known.append(_lse(cand.pb[j], cand.pnb[j]) + cand.lm[j])
    floor = _nth(known, n) if alpha >= 0.0 else -1.0e30
    ctxs: List[int] = []  # flat (Q, order): one tensor from a flat list is the fast path
    hs: List[int] = []
    nxt: List[int] = []
    at: List[int] = []
    for j in pending:
        if _lse(cand.pb[j], cand.pnb[j]) + cand.lm[j] < floor:
            cand.lm[j] = -1.0e30
            continue
        i = cand.parent[j]
        ctxs.extend(prev.contexts[i])
        hs.append(prev.hashes[i])
        nxt.append(cand.char[j])
        at.append(j)
    if len(nxt) == 0:
        return
    contexts = torch.tensor(ctxs).view(len(nxt), -1)
    lm: List[float] = lm_logp(tables[0], tables[1], contexts, torch.tensor(nxt)).tolist()
    for k in range(len(nxt)):
        s = alpha * lm[k]
        cache[hs[k]][nxt[k]] = s
        cand.lm[at[k]] += s


class Beams:
    """Prefixes alive after a frame: trie nodes, hashes, LM contexts and log-probabilities."""

    def __init__(self) -> None:
        self.nodes: List[int] = []  # index into the trie (Trie)
        self.hashes: List[int] = []  # equal prefixes have equal hashes
        self.contexts: List[List[int]] = []  # LM contexts (lm_logp)
        self.pb: List[float] = []  # log p(prefix, path ends in blank)
        self.pnb: List[float] = []  # log p(prefix, path ends in its last char)
        self.lm: List[float] = []  # alpha * log p_lm + beta * length
        self.parent: List[int] = []  # for new prefixes: the beam they extend
        self.char: List[int] = []  # and the class appended (0: not new)

    def add(self, h: int, parent: int, char: int, lm: float) -> int:
        """Append a prefix with zero probability; its index."""
        self.hashes.append(h)
        self.parent.append(parent)
        self.char.append(char)
        self.pb.append(-1.0e30)
        self.pnb.append(-1.0e30)
        self.lm.append(lm)
        return len(self.hashes) - 1


class Trie:
    """Every prefix ever kept, as (parent node, class); node 0 is the empty prefix."""

    def __init__(self) -> None:
        self.parent: List[int] = [-1]
        self.char: List[int] = [0]

    def grow(self, node: int, char: int) -> int:
        self.parent.append(node)
        self.char.append(char)
        return len(self.char) - 1

    def classes(self, node: int) -> List[int]:
        out: List[int] = []
        while node > 0:
            out.append(self.char[node])
            node = self.parent[node]
        out.reverse()
        return out


def _keep(cand: Beams, prev: Beams, trie: Trie, n: int) -> Beams:
    """The n most probable candidates (CTC times LM); new prefixes get a node and a context."""
    scores = [_lse(cand.pb[j], cand.pnb[j]) + cand.lm[j] for j in range(len(cand.hashes))]
    keep: List[int] = torch.tensor(scores).topk(min(n, len(scores))).indices.tolist()
    out = Beams()
    for j in keep:
        i, c = cand.parent[j], cand.char[j]
        out.hashes.append(cand.hashes[j])
        out.pb.append(cand.pb[j])
        out.pnb.append(cand.pnb[j])
        out.lm.append(cand.lm[j])
        out.nodes.append(prev.nodes[i] if c == 0 else trie.grow(prev.nodes[i], c))
        out.contexts.append(prev.contexts[i] if c == 0 else _extend(prev.contexts[i], c))
    return out


def _blank_frame(b: Beams, trie: Trie, row: List[float]) -> None:
    """A frame where no character is likely: every prefix stays, nothing merges."""
    for i in range(len(b.hashes)):
        last = trie.char[b.nodes[i]]
        stay = b.pnb[i] + row[last] if last > 0 else -1.0e30
        b.pb[i] = _lse(b.pb[i], b.pnb[i]) + row[0]
        b.pnb[i] = stay


def _frame(b: Beams, trie: Trie, row: List[float], chars: List[int], beta: float) -> Beams:
    """Every prefix stays (blank, repeat) or grows by one of `chars`; equal prefixes merge.

    New prefixes get the bonus `beta` but not yet their LM term (`_add_lm`)."""
    out = Beams()
    index: Dict[int, int] = {}
    for i in range(len(b.hashes)):  # stays first: an extension may equal another's prefix
        index[b.hashes[i]] = out.add(b.hashes[i], i, 0, b.lm[i])
    for i in range(len(b.hashes)):
        h, total, last = b.hashes[i], _lse(b.pb[i], b.pnb[i]), trie.char[b.nodes[i]]
        j = index[h]
        out.pb[j] = _lse(out.pb[j], total + row[0])
        if last > 0:
            out.pnb[j] = _lse(out.pnb[j], b.pnb[i] + row[last])
        for c in chars:
            g = (h * 257 + c) % 9007199254740881
            j = index.get(g, -1)
            if j < 0:
                j = out.add(g, i, c, b.lm[i] + beta)
                index[g] = j
            out.pnb[j] = _lse(out.pnb[j], (b.pb[i] if c == last else total) + row[c])
    return out


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
    almost nothing, and noise (every char equally likely) costs a bounded time.
    """
    bos, eos = log_probs.size(1) + 1, log_probs.size(1)  # the LM's classes past the charset
    rows: List[List[float]] = log_probs.float().tolist()
    cands: List[List[int]] = []
    for _ in range(len(rows)):
        none: List[int] = []
        cands.append(none)
    best, ids = log_probs[:, 1:].topk(min(top_k, log_probs.size(1) - 1), dim=1)  # (T, K)
    hits: List[List[int]] = (best > prune).nonzero().tolist()
    chars: List[List[int]] = ids.tolist()
    for tk in hits:
        cands[tk[0]].append(chars[tk[0]][tk[1]] + 1)
    trie = Trie()
    b = Beams()
    b.add(0, 0, 0, 0.0)
    b.pb[0] = 0.0
    b.nodes.append(0)
    b.contexts.append(([0, 256 * bos] + [-256] * order)[:order])  # after "BOS"
    cache: Dict[int, Dict[int, float]] = {}
    for t in range(len(rows)):
        if len(cands[t]) == 0:
            _blank_frame(b, trie, rows[t])
            continue
        cand = _frame(b, trie, rows[t], cands[t], beta)
        _add_lm(cand, b, beam, cache, tables, alpha)
        b = _keep(cand, b, trie, beam)
    ends: List[float] = lm_logp(
        tables[0],
        tables[1],
        torch.tensor(b.contexts, dtype=torch.int64),
        torch.full([len(b.hashes)], eos, dtype=torch.int64),
    ).tolist()
    final = [_lse(b.pb[i], b.pnb[i]) + b.lm[i] + alpha * ends[i] for i in range(len(b.hashes))]
    return trie.classes(b.nodes[int(torch.tensor(final).argmax())])
