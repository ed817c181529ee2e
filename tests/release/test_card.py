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


def _card(
    tmp_path: Path, sources: list[str], evaluation: dict | None, finder: dict | None = None
) -> ModelCard:
    """Write a card for a model trained on `sources` and load it back as the Hub would."""
    config = {
        "version": "v7",
        "git_commit": "abc123",
        "charset": "abc",
        "input_height": 40,
        "architecture": {"type": "crnn", "parameters": 1000},
        "decode": {"beam": 0},
        "data_sources": [{"name": s} for s in sources],
        "finder": finder,
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


REAL = {
    "copiste-val": {"lines": 623, "cer": 0.1, "wer": 0.3},
    "poilus-val": {"lines": 174, "cer": 0.2, "wer": 0.6},
    "cremma19-val": {"lines": 253, "cer": 0.3, "wer": 0.7},
    "lectaurep-val": {"lines": 300, "cer": 0.4, "wer": 0.9},
    "cremma18-val": {"lines": 404, "cer": 0.38, "wer": 0.8},
}


def test_the_card_states_the_unseen_writer_cer_first_and_in_the_model_index(tmp_path):
    card = _card(tmp_path, ["synthetic", "hooker-train"], {"sets": {**SETS, **REAL}, "beam": 6})
    first = card.data.eval_results[0]
    assert (first.dataset_type, first.metric_type, first.metric_value) == (
        "unseen-writers",
        "cer",
        0.25,  # the mean of the four; hooker-val, cremma18-val and synthetic-test left out
    )
    assert "copiste-val, poilus-val, cremma19-val, lectaurep-val" in first.dataset_name
    per_set = {(r.dataset_name, r.metric_type) for r in card.data.eval_results[1:]}
    assert per_set == {(s, m) for s in {**SETS, **REAL} for m in ("cer", "wer")}
    evaluation = card.text.split("## Evaluation", 1)[1]
    assert evaluation.lstrip().startswith("**Unseen-writer CER: 25.0%**")
    assert "copiste-val, poilus-val, cremma19-val and lectaurep-val" in evaluation
    assert "Seen writer: hooker-val 28.3% (other letters of the writer whose" in evaluation
    assert "cremma18-val 38.0%" in evaluation
    assert evaluation.index("Unseen-writer CER") < evaluation.index("| set | lines |")


def test_without_all_four_sets_the_card_gives_no_unseen_writer_figure(tmp_path):
    sets = {k: v for k, v in {**SETS, **REAL}.items() if k != "lectaurep-val"}
    card = _card(tmp_path, ["synthetic"], {"sets": sets, "beam": 0})
    assert "unseen-writers" not in {r.dataset_type for r in card.data.eval_results}
    assert "**Unseen-writer CER: not measured.**" in card.text
    assert "this evaluation lacks lectaurep-val" in card.text
    assert "this model was not trained on any of them" in card.text  # hooker-val, unread hand


def test_a_file_with_a_finder_says_it_reads_pages_and_credits_the_pages(tmp_path):
    finder = {"parameters": 268530, "training_config": {"data": {"pages": "../pages"}}}
    card = _card(tmp_path, ["synthetic"], None, finder)
    assert "model.read_page(image)" in card.text and "268,530 parameters" in card.text
    assert "Testaments de Poilus" in card.text and "LECTAUREP" in card.text
    assert card.data.license == "cc-by-sa-4.0"  # its pages include Hooker's letters


def test_a_lines_only_file_says_to_segment_pages_first(tmp_path):
    card = _card(tmp_path, ["synthetic", "poilus-train"], None)
    assert "does not find lines on a page" in card.text and "read_page" not in card.text
    assert "Testaments de Poilus" in card.text  # every real source is credited
