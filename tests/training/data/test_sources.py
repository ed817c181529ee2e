"""Source configuration, format detection and document-disjoint splitting."""

from __future__ import annotations

import pytest

from htr.errors import ConfigError, DataError
from training.data.sources import SourceConfig, detect_format, doc_split, resolve


def test_bad_values_name_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"format='zip'.*choose from"):
        SourceConfig("x.tar", format="zip")
    with pytest.raises(ConfigError, match=r"split='dev'.*train"):
        SourceConfig("x.tar", split="dev")
    with pytest.raises(ConfigError, match="weight"):
        SourceConfig("x.tar", weight=-1)


def test_names_and_synthetic_default():
    assert SourceConfig().format == "synthetic" and SourceConfig().name == "synthetic"
    assert SourceConfig("../shared/data/lines/copiste-val-000.tar").name == "copiste-val-000"
    assert SourceConfig("data/hooker-train-*.tar").name == "hooker-train"


def test_detect_format(tmp_path):
    (tmp_path / "a.tar").touch()
    (tmp_path / "b.pkl.gz").touch()
    k = tmp_path / "k"
    k.mkdir()
    (k / "x.gt.txt").write_text("hi")
    p = tmp_path / "p"
    p.mkdir()
    (p / "page.xml").write_text("<x/>")
    assert detect_format(tmp_path / "a.tar") == "webdataset"
    assert detect_format(tmp_path / "b.pkl.gz") == "pkl"
    assert detect_format(k) == "kraken"
    assert detect_format(p) == "pages"
    with pytest.raises(DataError, match="cannot tell the format"):
        detect_format(tmp_path / "a.csv")


def test_resolve_expands_globs_and_reports_missing(tmp_path):
    for n in ("s-000.tar", "s-001.tar"):
        (tmp_path / n).touch()
    assert [p.name for p in resolve(SourceConfig(str(tmp_path / "s-*.tar")), tmp_path)] == [
        "s-000.tar",
        "s-001.tar",
    ]
    with pytest.raises(DataError, match="matches no file"):
        resolve(SourceConfig(str(tmp_path / "none-*.tar")), tmp_path)


def test_doc_split_is_stable_and_roughly_proportional():
    splits = [doc_split(f"doc{i}", 0.1, 0.1) for i in range(2000)]
    assert splits == [doc_split(f"doc{i}", 0.1, 0.1) for i in range(2000)]
    assert 0.07 < splits.count("val") / 2000 < 0.13
    assert 0.07 < splits.count("test") / 2000 < 0.13
