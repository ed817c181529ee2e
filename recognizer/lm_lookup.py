"""Reading the LM tables of `training.lm.build_tables` in TorchScript (the beam search's
lookups): sorted int64 keys whose bytes are CTC classes (the last symbol lowest), and their
log p(next | context) or log back-off weight.
"""

from __future__ import annotations

from typing import List

import torch

# TorchScript functions cannot read module globals: 256 (training.lm.RADIX, one CTC class per
# byte of a key) and 255 (the byte that marks a context's back-off entry) are written inline.


def lm_logp(
    keys: torch.Tensor, values: torch.Tensor, contexts: torch.Tensor, nxt: torch.Tensor
) -> torch.Tensor:
    """log p(nxt | context) for (Q,) next classes and (Q, N) contexts.

    Column j of `contexts` is 256 times the key of the last j symbols (column 0 is 0, the
    empty context), or -256 where the line starts less than j symbols back: its queries are
    negative and match nothing. `keys` holds n-grams (context * 256 + class) and contexts
    (context * 256 + 255, whose value is the log back-off weight), sorted, ending in a
    sentinel.
    """
    return lm_query(keys, values, contexts, nxt, after_index(contexts.size(1)))


def after_index(n: int) -> torch.Tensor:
    """[1, ..., n, 0, ..., n - 1]: for each of the 2n query columns of `lm_query`, the column
    whose hit decides whether its value counts."""
    return torch.arange(1, 2 * n + 1) % (n + 1)


def lm_query(
    keys: torch.Tensor,
    values: torch.Tensor,
    contexts: torch.Tensor,
    nxt: torch.Tensor,
    after: torch.Tensor,
) -> torch.Tensor:
    """`lm_logp` given `after_index(N)`, made once per line: at one call per frame, the
    number of tensor ops is the LM's cost."""
    query = torch.cat([contexts + nxt[:, None], contexts + 255], 1)  # (Q, 2N)
    pos = torch.searchsorted(keys, query)
    hit = keys[pos] == query
    # The found n-grams are the first columns (training.lm keeps the suffix of every n-gram
    # it keeps): the longest is the one whose next column misses, and the back-off weights
    # to add are those of the contexts whose n-gram missed. Column n, the empty context's
    # weight, is never stored: it is the miss after the longest order.
    return (values[pos] * (hit & ~hit[:, after])).sum(1)


def extend_context(context: List[int], c: int) -> List[int]:
    """LM contexts of a prefix after appending class `c` (see `lm_logp`)."""
    out = [0]
    for j in range(1, len(context)):
        out.append(256 * (c + context[j - 1]) if context[j - 1] >= 0 else -256)
    return out
