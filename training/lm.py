"""A character n-gram language model for CTC beam search, built from text at export time.

Interpolated absolute discounting, stored in back-off form so that serving needs one sorted
table of int64 keys: n-grams (-> log p(x | context)) and contexts (-> log back-off weight).
The beam search that reads it is `recognizer.beam` (TorchScript).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from htr.errors import ConfigError, InternalError
from training.data import dictionary
from training.data.charset import Charset, normalize_text
from training.data.datamodule import DataConfig
from training.data.sources import doc_split, load_source
from training.data.texts import sentences

log = logging.getLogger(__name__)
RADIX = 256  # one symbol per byte of an int64 key: ids + 1 < 256, up to 7 symbols
MAX_ORDER = 7
CORPORA = ("dasher", "transcriptions", "gcide")


@dataclass
class DecodeConfig:
    """How the exported model runs its network and turns CTC outputs into text."""

    beam: int = 6  # prefixes kept per frame; 0: greedy best path, no language model
    order: int = 6  # characters of the n-gram: 5 of context plus the next one
    alpha: float = 0.4  # weight of the LM log-probability (tuned on half the val documents)
    beta: float = 1.5  # bonus per emitted character: offsets the LM bias towards short text
    prune: float = -5.0  # characters under this log-probability at a frame are not tried
    top_k: int = 8  # nor more than this many per frame: bounds the time spent on noise
    discount: float = 0.75  # absolute discount of every n-gram count
    min_count: int = 2  # n-grams and contexts of 3+ characters seen fewer times: dropped (size)
    # text the LM learns from: Debian dasher sentences (en, fr), the transcriptions of the
    # training split of the run's real sources (never its val or test lines); "gcide", the
    # prose of the 1913 Webster's (Debian dict-gcide, 21 MB of English), only when asked
    corpora: tuple[str, ...] = ("dasher", "transcriptions")
    transcription_weight: int = 3  # in-domain text counts this many times
    # Network in bfloat16 where oneDNN supports it (AVX-512 or Arm bf16; float32 elsewhere),
    # checked on every call: faster, at about the same CER (why: experiments/decoding.md,
    # "The network in bfloat16"). `model.set_bf16(False)` turns it off in a loaded file.
    bf16: bool = True

    def __post_init__(self) -> None:
        self.corpora = tuple(self.corpora)
        bad = [c for c in self.corpora if c not in CORPORA]
        if bad:
            raise ConfigError(f"decode.corpora has {bad}; choose from {CORPORA}")
        if not 1 <= self.order <= MAX_ORDER:
            raise ConfigError(f"decode.order={self.order}; use 1 to {MAX_ORDER}")
        if self.beam < 0:
            raise ConfigError(f"decode.beam={self.beam}; use 0 (greedy) or more")
        if self.alpha < 0.0:  # a negative weight would reward text the LM finds unlikely
            raise ConfigError(f"decode.alpha={self.alpha}; use 0 (no LM) or more")
        if not 0.0 < self.discount < 1.0:
            raise ConfigError(f"decode.discount={self.discount}; use a value in (0, 1)")


def keys(ids: np.ndarray, order: int) -> np.ndarray:
    """int64 key of every `order`-gram ending at each position of `ids` (N,) -> (N-order+1,)."""
    if len(ids) < order:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for j in range(order):  # the last symbol is the lowest byte
        key = key * RADIX + (ids[j : len(ids) - order + 1 + j] + 1)
    return key


def _lookup(table_keys: np.ndarray, table_vals: np.ndarray, query: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(table_keys, query)
    pos = np.minimum(pos, len(table_keys) - 1)
    if not np.all(table_keys[pos] == query):
        raise InternalError("a lower-order n-gram is missing from its table; nothing was built")
    return table_vals[pos]


class CharNgram:
    """Counts of every n-gram up to `order` over symbol ids, then log-probabilities."""

    def __init__(self, vocab: int, order: int, discount: float) -> None:
        self.vocab, self.order, self.discount = vocab, order, discount
        self.bos, self.eos = vocab, vocab - 1  # BOS only as context; EOS is predicted
        self._chunks: list[list[np.ndarray]] = [[] for _ in range(order)]

    def add(self, ids: list[int], weight: int = 1) -> None:
        """Count one line of symbol ids (without BOS/EOS), `weight` times."""
        seq = np.array([self.bos, *ids, self.eos], dtype=np.int64)
        for k in range(1, self.order + 1):
            ks = keys(seq, k)  # contexts may start at BOS, never before it
            ks = ks[1:] if k == 1 else ks  # BOS is never predicted
            self._chunks[k - 1].extend([ks] * weight)

    def tables(self, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n-gram keys, log p, context keys, log back-off), each sorted by key."""
        ng_k: list[np.ndarray] = []
        ng_p: list[np.ndarray] = []
        cx_k: list[np.ndarray] = [np.zeros(0, np.int64)]
        cx_b: list[np.ndarray] = [np.zeros(0)]
        # unigrams: add-one over every predictable symbol, so nothing gets p = 0
        uniq, cnt = np.unique(np.concatenate(self._chunks[0]), return_counts=True)
        full = np.zeros(self.vocab)
        full[uniq - 1] = cnt
        low_k, low_p = (
            np.arange(1, self.vocab + 1, dtype=np.int64),
            (full + 1) / (full.sum() + self.vocab),
        )
        ng_k.append(low_k)
        ng_p.append(low_p)
        for k in range(2, self.order + 1):
            uniq, cnt = np.unique(np.concatenate(self._chunks[k - 1]), return_counts=True)
            ctx, inv = np.unique(uniq // RADIX, return_inverse=True)
            total = np.bincount(inv, weights=cnt)  # tokens after each context
            gamma = self.discount * np.bincount(inv) / total  # mass left for the lower order
            lower = _lookup(low_k, low_p, uniq % RADIX ** (k - 1))
            p = (cnt - self.discount) / total[inv] + gamma[inv] * lower
            keep = cnt >= (min_count if k >= 3 else 1)
            ng_k.append(uniq[keep])
            ng_p.append(p[keep])
            # a context is an n-gram of order k - 1: pruned by the same rule, its back-off
            # weight is then 1, as in an ARPA file (most contexts of a large text are rare)
            stored = total >= (min_count if k - 1 >= 3 else 1)
            cx_k.append(ctx[stored])
            cx_b.append(np.log(gamma[stored]))
            low_k, low_p = uniq, p  # the next order needs every suffix, pruned or not
        nk, nl = np.concatenate(ng_k), np.log(np.concatenate(ng_p))
        ck, cb = np.concatenate(cx_k), np.concatenate(cx_b)
        on, oc = np.argsort(nk), np.argsort(ck)
        return nk[on], nl[on], ck[oc], cb[oc]


def corpus(decode: DecodeConfig, data: DataConfig) -> list[tuple[str, int]]:
    """(line, weight) pairs the LM learns from: never a val or test line of any source."""
    lines: list[tuple[str, int]] = []
    if "dasher" in decode.corpora:
        for lang in ("en", "fr"):
            lines.extend((s, 1) for s in sentences(lang))
    if "gcide" in decode.corpora:
        lines.extend((s, 1) for s in dictionary.sentences())
    if "transcriptions" in decode.corpora:
        for src in data.sources:
            if src.format == "synthetic" or src.weight <= 0 or src.split in ("val", "test"):
                continue
            for s in load_source(src, Path(data.cache_dir)):
                split = src.split
                if split == "auto":
                    split = doc_split(s.doc, data.val_fraction, data.test_fraction)
                if split == "train":
                    lines.append((normalize_text(s.text), decode.transcription_weight))
    if not lines:
        raise ConfigError(
            f"decode.corpora={list(decode.corpora)} gave no text; install dasher-data "
            "or dict-gcide (`make setup`), add real training sources, or set decode.beam=0"
        )
    return lines


def build_tables(
    decode: DecodeConfig, charset: Charset, lines: list[tuple[str, int]]
) -> dict[str, torch.Tensor]:
    """The serving tables of an n-gram LM over `charset` learned from `lines`."""
    n = len(charset.chars)
    # symbol = CTC class - 1, so a key's bytes are CTC classes; EOS is class n + 1, BOS n + 2
    lm = CharNgram(vocab=n + 1, order=decode.order, discount=decode.discount)
    chars = 0
    for text, weight in lines:
        ids = [c - 1 for c in charset.encode(text)]
        lm.add(ids, weight)
        chars += len(ids) * weight
    nk, nl, ck, cb = lm.tables(decode.min_count)
    log.info(
        "language model: order %d, %d lines, %d characters, %d n-grams, %d contexts",
        decode.order,
        len(lines),
        chars,
        len(nk),
        len(ck),
    )
    # one table: n-grams as context * 256 + class, contexts as context * 256 + 255 (their
    # back-off weight), and a sentinel above every key, so one search serves both
    table = np.concatenate([nk, ck * RADIX + RADIX - 1, [np.iinfo(np.int64).max]])
    values = np.concatenate([nl, cb, [0.0]])
    order = np.argsort(table, kind="stable")
    return {
        "keys": torch.from_numpy(table[order]),
        "values": torch.from_numpy(values[order].astype(np.float32)),
    }
