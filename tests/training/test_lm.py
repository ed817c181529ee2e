"""The character n-gram LM: probabilities that sum to one, and text from training lines only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from htr.errors import ConfigError
from recognizer.lm_lookup import lm_logp
from training.data.charset import Charset
from training.data.datamodule import DataConfig
from training.data.lines import LineSample
from training.data.sources import SourceConfig, doc_split
from training.data.webdataset import write_shard
from training.lm import DecodeConfig, build_tables, corpus

TEXT = ["the cat sat on the mat", "a cat and a hat", "that is the cat", "l'été à Noël"]


def _contexts(charset: Charset, prefix: str, order: int) -> list[int]:
    """Contexts of `prefix` after BOS, as the beam search keeps them: 256 x each key."""
    digits = [len(charset) + 1] + charset.encode(prefix)  # BOS is class C + 1
    keys = [0]
    for j in range(1, order):
        keys.append(
            256 * int(sum(d * 256**i for i, d in enumerate(reversed(digits[-j:]))))
            if j <= len(digits)
            else -256
        )
    return keys


def _dist(tables: dict, charset: Charset, prefix: str, order: int) -> torch.Tensor:
    """log p(x | prefix) for every char and EOS: (C,)."""
    n = len(charset)  # classes 1..n-1 are chars, n is EOS
    ctx = torch.tensor([_contexts(charset, prefix, order)] * n)
    return lm_logp(tables["keys"], tables["values"], ctx, torch.arange(1, n + 1))


@pytest.mark.parametrize("prefix", ["", "the c", "zzqx", "été", "a cat and a hat and"])
def test_unpruned_probabilities_sum_to_one(prefix):
    cs = Charset()
    cfg = DecodeConfig(order=4, min_count=1)
    tables = build_tables(cfg, cs, [(t, 1) for t in TEXT])
    assert float(_dist(tables, cs, prefix, 4).exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_the_lm_prefers_what_it_read():
    cs = Charset()
    tables = build_tables(DecodeConfig(order=4), cs, [(t, 3) for t in TEXT])
    after_the_c = _dist(tables, cs, "the c", 4)
    assert cs.chars[int(after_the_c[:-1].argmax())] == "a"
    after_mat = _dist(tables, cs, "on the mat", 4)
    assert int(after_mat.argmax()) == len(cs) - 1  # end of line


def test_rare_contexts_are_pruned_like_rare_ngrams():
    cs = Charset()
    lines = [("the cat sat", 1), ("the dog", 1)]  # "the" twice, "cat" once
    stored = build_tables(DecodeConfig(min_count=2), cs, lines)["keys"]
    contexts = {int(k) // 256 for k in stored[:-1] if int(k) % 256 == 255}  # sentinel dropped

    def key(text: str) -> int:
        return int(sum(c * 256**i for i, c in enumerate(reversed(cs.encode(text)))))

    assert key("the") in contexts and key("he ") in contexts  # seen twice: kept
    assert key("cat") not in contexts and key("at") in contexts  # once, but order 2 stays
    full = build_tables(DecodeConfig(min_count=1), cs, lines)["keys"]
    assert any(int(k) == key("cat") * 256 + 255 for k in full)


def test_corpus_takes_only_training_documents(tmp_path):
    lines = [
        LineSample(np.full((8, 8), 200, np.uint8), f"line of doc {d}", doc=f"doc{d}")
        for d in range(40)
    ]
    write_shard(lines, tmp_path / "real-000.tar")
    data = DataConfig(
        sources=[SourceConfig(weight=0.0), SourceConfig(str(tmp_path / "real-000.tar"))]
    )
    got = {t for t, w in corpus(DecodeConfig(corpora=("transcriptions",)), data)}
    train = {
        s.text for s in lines if doc_split(s.doc, data.val_fraction, data.test_fraction) == "train"
    }
    assert got == train and 0 < len(train) < 40


def test_bad_decode_values_name_the_key():
    with pytest.raises(ConfigError, match="decode.corpora.*dasher"):
        DecodeConfig(corpora=("books",))
    with pytest.raises(ConfigError, match="decode.order=9"):
        DecodeConfig(order=9)
    with pytest.raises(ConfigError, match=r"decode.alpha=-0.5; use 0 \(no LM\) or more"):
        DecodeConfig(alpha=-0.5)


def test_no_text_at_all_says_what_to_do(tmp_path):
    data = DataConfig(sources=[SourceConfig()])
    with pytest.raises(ConfigError, match="decode.beam=0"):
        corpus(DecodeConfig(corpora=("transcriptions",)), data)
