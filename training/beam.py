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
    """log p(nxt | context) for (Q,) next classes and (Q, N) context keys.

    Column j of `contexts` is the key of the last j symbols (column 0 is 0, the empty
    context), or -1 where the line starts less than j symbols back: its queries are negative
    and match nothing. `keys` holds n-grams (context * 256 + class) and contexts (context *
    256 + 255, whose value is the log back-off weight), sorted, ending in a sentinel.
    """
    n = contexts.size(1)
    base = 256 * contexts
    query = torch.cat([base + nxt[:, None], base + 255], 1)  # (Q, 2N): n-grams, then contexts
    pos = torch.searchsorted(keys, query)
    hit = keys[pos] == query
    val = torch.where(hit, values[pos], torch.zeros_like(query, dtype=torch.float32))
    # back off from the longest n-gram found, adding the weights of every longer context
    best = (hit[:, :n].long() * torch.arange(n)).amax(1, keepdim=True)  # (Q, 1)
    bow = val[:, n:].cumsum(1)  # (Q, N)
    return (val[:, :n].gather(1, best) + bow[:, -1:] - bow.gather(1, best)).squeeze(1)


def _extend(keys: List[int], c: int) -> List[int]:
    """Context keys of a prefix after appending class `c` (see `lm_logp`)."""
    out = [0]
    for j in range(1, len(keys)):
        out.append(c + 256 * keys[j - 1] if keys[j - 1] >= 0 else -1)
    return out


def _score(
    cache: Dict[int, Dict[int, float]],
    b: "Beams",
    chars: List[int],
    tables: List[torch.Tensor],  # [keys, values]
    weight: float,
) -> None:
    """Fill cache[prefix hash][char] = weight * log p(char | prefix) where it is missing."""
    ctxs: List[List[int]] = []
    hs: List[int] = []
    nxt: List[int] = []
    for i in range(len(b.hashes)):
        h = b.hashes[i]
        if h not in cache:
            fresh: Dict[int, float] = {}
            cache[h] = fresh
        known = cache[h]
        for c in chars:
            if c not in known:
                ctxs.append(b.contexts[i])
                hs.append(h)
                nxt.append(c)
    if len(nxt) == 0:
        return
    scores: List[float] = lm_logp(
        tables[0], tables[1], torch.tensor(ctxs), torch.tensor(nxt)
    ).tolist()
    for k in range(len(nxt)):
        cache[hs[k]][nxt[k]] = weight * scores[k]


class Beams:
    """Prefixes alive after a frame: trie nodes, hashes, LM contexts and log-probabilities."""

    def __init__(self) -> None:
        self.nodes: List[int] = []  # index into the trie (Trie)
        self.hashes: List[int] = []  # equal prefixes have equal hashes
        self.contexts: List[List[int]] = []  # LM context keys (lm_logp)
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


def _frame(
    b: Beams,
    trie: Trie,
    row: List[float],
    chars: List[int],
    cache: Dict[int, Dict[int, float]],
    beta: float,
) -> Beams:
    """Every prefix stays (blank, repeat) or grows by one of `chars`; equal prefixes merge."""
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
        scores = cache[h]
        for c in chars:
            g = (h * 257 + c) % 9007199254740881
            j = index.get(g, -1)
            if j < 0:
                j = out.add(g, i, c, b.lm[i] + scores[c] + beta)
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
    b.contexts.append(([0, bos] + [-1] * order)[:order])  # the keys of "BOS"
    cache: Dict[int, Dict[int, float]] = {}
    for t in range(len(rows)):
        if len(cands[t]) == 0:
            _blank_frame(b, trie, rows[t])
            continue
        _score(cache, b, cands[t], tables, alpha)
        b = _keep(_frame(b, trie, rows[t], cands[t], cache, beta), b, trie, beam)
    ends: List[float] = lm_logp(
        tables[0],
        tables[1],
        torch.tensor(b.contexts, dtype=torch.int64),
        torch.full([len(b.hashes)], eos, dtype=torch.int64),
    ).tolist()
    final = [_lse(b.pb[i], b.pnb[i]) + b.lm[i] + alpha * ends[i] for i in range(len(b.hashes))]
    return trie.classes(b.nodes[int(torch.tensor(final).argmax())])
