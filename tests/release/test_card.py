"""The model card as the Hub reads it: written by write_card, loaded back with ModelCard.load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from release.card import write_card

ROOT = Path(__file__).resolve().parents[2]
SETS = {
    "synthetic-test": {"lines": 6, "cer": 0.4321, "wer": 0.9},
    "hooker-val": {"lines": 120, "cer": 0.283, "wer": 0.61},
}


def _card(tmp_path: Path, sources: list[str], evaluation: dict | None) -> ModelCard:
    """Write a card for a model trained on `sources` and load it back as the Hub would."""
    config = {
        "version": "v7",
        "git_commit": "abc123",
        "charset": "abc",
        "input_height": 40,
        "architecture": {"type": "crnn", "parameters": 1000},
        "decode": {"beam": 0},
        "data_sources": [{"name": s} for s in sources],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    if evaluation is not None:
        (tmp_path / "eval.json").write_text(json.dumps(evaluation))
    shutil.copy(ROOT / "model_repo" / "card_body.md", tmp_path / "card_body.md")
    return ModelCard.load(write_card(tmp_path, name="htr-x", repo_id="org/htr", revision="v7"))


def test_the_hub_reads_each_sets_cer_and_wer_back(tmp_path):
    card = _card(tmp_path, ["synthetic", "hooker-train"], {"sets": SETS, "beam": 0})
    got = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
    want = {(s, m): r[m] for s, r in SETS.items() for m in ("cer", "wer")}
    assert got == want
    assert {(r.task_type, r.dataset_type, r.metric_name) for r in card.data.eval_results} == {
        ("image-to-text", s, m.upper()) for s, m in want
    }
    assert card.data.model_name == "htr-x"
    assert card.data.license == "cc-by-sa-4.0"  # Hooker's letters are share-alike
    assert card.data.datasets == ["hooker"] and card.data.pipeline_tag == "image-to-text"
    assert card.text.startswith("\n# htr-x\n")
    assert "| hooker-val | 120 | 28.3% | 61.0% |" in card.text


@pytest.mark.parametrize("sources", [["synthetic"], ["copiste-train"]])
def test_a_card_without_share_alike_data_is_apache_and_loads_without_an_eval(tmp_path, sources):
    card = _card(tmp_path, sources, None)
    assert card.data.license == "apache-2.0"
    assert not card.data.eval_results and card.data.model_name == "htr-x"
    assert "No evaluation has been run." in card.text
