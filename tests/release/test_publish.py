"""Evaluation, model card and publishing to a git + LFS remote (the local Hub)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from release.card import decoding, preprocessing, results_table, write_card
from release.evaluate import evaluate
from release.export import export
from release.publish import ensure_local_remote, publish_git
from training.cli import to_dict
from training.module import LitRecognizer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hf_TESTSECRET0123456789abcdef"


@pytest.fixture
def repo(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # evaluation looks for ../shared relative to the cwd
    cfg = tiny()
    run = Path(cfg.log.root) / cfg.log.name
    (run / "checkpoints").mkdir(parents=True)
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "events.out.tfevents.1.test").write_bytes(b"\x00event-bytes" * 50)
    ckpt = run / "checkpoints" / "best.ckpt"
    torch.save(
        {"state_dict": LitRecognizer(cfg).state_dict(), "htr": {"config": to_dict(cfg)}}, ckpt
    )
    out = tmp_path / "model_repo"
    export(ckpt, out)
    for static in ("card_body.md", ".gitattributes"):
        shutil.copy(ROOT / "model_repo" / static, out / static)
    evaluate(out / "model.pt", out / "eval.json", synthetic=6)
    write_card(out, name="tiny", repo_id="local/tiny", revision="v1")
    return out


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_card_parses_with_required_keys_and_evaluated_metrics(repo):
    text = (repo / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    for key in (
        "library_name",
        "pipeline_tag",
        "license",
        "tags",
        "datasets",
        "metrics",
        "model-index",
    ):
        assert key in meta, key
    assert meta["pipeline_tag"] == "image-to-text"
    evaluation = json.loads((repo / "eval.json").read_text())
    results = meta["model-index"][0]["results"]
    got = {r["dataset"]["name"]: {m["type"]: m["value"] for m in r["metrics"]} for r in results}
    want = {k: {"cer": v["cer"], "wer": v["wer"]} for k, v in evaluation["sets"].items()}
    assert got == want and "synthetic-test" in got
    assert "torch.jit.load" in text and "hf_hub_download" in text
    assert "character 6-gram language model" in text and "dasher-data" in text
    assert "{decoding}" not in text
    assert "polarity normalised; scaled to 32 px high)" in text  # the tiny model: no crop


def test_card_says_how_its_numbers_were_decoded(repo):
    assert "Scored with the LM beam search, beam 6" in (repo / "README.md").read_text()
    sets = {"sets": {"a": {"lines": 2, "cer": 0.5, "wer": 1.0}}}
    assert "Scored with best-path decoding, no LM" in results_table({**sets, "beam": 0})
    assert "Scored with" not in results_table(sets)  # an eval.json older than the beam field


def test_card_says_which_files_run_their_network_in_bf16(repo):
    assert "runs in bfloat16 where oneDNN supports it" in (repo / "README.md").read_text()
    greedy = {"decode": {"beam": 0, "bf16": False}}
    assert decoding(greedy) == "Best-path (greedy) CTC decoding; no language model."
    assert "set_bf16(False)" in decoding({"decode": {"beam": 0, "bf16": True}})


def test_card_says_when_the_file_crops_and_squeezes_lines():
    config = {"architecture": {"crop": True, "x_scale": 0.75}, "input_height": 40}
    assert preprocessing(config) == (
        "alpha on white; polarity normalised; cropped to the box around the ink; "
        "scaled to 40 px high, then its width times 0.75"
    )


def test_published_clone_has_real_weights_and_lfs_lists_them(repo, tmp_path):
    remote = ensure_local_remote(tmp_path / "hub.git")
    commit = publish_git(repo, remote, tmp_path / "work")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", remote, str(clone)], check=True)
    assert (clone / "model.pt").read_bytes() == (repo / "model.pt").read_bytes()
    lfs = _git(clone, "lfs", "ls-files", "-n").split()
    assert "model.pt" in lfs and "runs/tiny/events.out.tfevents.1.test" in lfs
    assert _git(clone, "rev-parse", "HEAD").strip() == commit
    assert (
        torch.jit.load(str(clone / "model.pt")).predict(torch.zeros(8, 8, dtype=torch.uint8))
        is not None
    )


def test_publishing_twice_makes_one_commit(repo, tmp_path):
    remote = ensure_local_remote(tmp_path / "hub.git")
    first = publish_git(repo, remote, tmp_path / "work")
    second = publish_git(repo, remote, tmp_path / "work")
    assert first == second
    assert _git(Path(remote), "rev-list", "--count", "main").strip() == "1"
    version = json.loads((repo / "config.json").read_text())["version"]
    assert version in _git(Path(remote), "tag", "-l").split()


def test_a_changed_repo_under_a_published_version_is_refused_before_any_push(repo, tmp_path):
    from htr.errors import DataError

    remote = ensure_local_remote(tmp_path / "hub.git")
    first = publish_git(repo, remote, tmp_path / "work")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nedited\n")
    with pytest.raises(DataError, match="already names commit .* nothing was pushed"):
        publish_git(repo, remote, tmp_path / "work")
    assert _git(Path(remote), "rev-parse", "main").strip() == first  # the remote as it was


def test_token_goes_to_the_hub_only(monkeypatch):
    from release.publish import _is_hub

    assert _is_hub("https://huggingface.co/org/name")
    assert not _is_hub("https://example.org/huggingface.co/x") and not _is_hub("/tmp/hub.git")


def test_token_never_written_or_logged(repo, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    remote = ensure_local_remote(tmp_path / "hub.git")
    with caplog.at_level(logging.DEBUG):
        publish_git(repo, remote, tmp_path / "work", token=TOKEN)
    assert TOKEN not in caplog.text
    for folder in (repo, tmp_path / "work", Path(remote)):
        for f in folder.rglob("*"):
            if f.is_file():
                assert TOKEN.encode() not in f.read_bytes(), f


def test_missing_export_is_a_clear_error(tmp_path):
    from htr.errors import DataError

    with pytest.raises(DataError, match="release.export"):
        publish_git(tmp_path, str(tmp_path / "r.git"), tmp_path / "w")


def test_exported_file_is_logged_as_a_wandb_artifact_on_its_run(repo, monkeypatch):
    from release.publish import log_wandb_artifact

    monkeypatch.setenv("WANDB_MODE", "offline")
    config = json.loads((repo / "config.json").read_text())
    run = Path(config["training_config"]["log"]["root"]) / config["training_config"]["log"]["name"]
    from training.runs import wandb_id

    assert log_wandb_artifact(repo) == config["version"]
    run_id = wandb_id(run)
    files = list((run / "wandb").glob(f"offline-run-*{run_id}/run-{run_id}.wandb"))
    assert files, list(run.rglob("*.wandb"))
    # the training run and the publish step each leave a folder under the same id, named
    # offline-run-DATE_TIME-ID; glob's order is the file system's, so take the latest
    data = max(files).read_bytes()
    assert b"htr-line-recognizer" in data and config["version"].encode() in data


def test_repo_id_publishes_through_the_hub_api(repo, monkeypatch):
    import huggingface_hub

    from release.publish import publish_hub

    calls: dict = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, exist_ok=False):
            calls["create"] = (repo_id, exist_ok)

        def upload_folder(self, folder_path, repo_id, allow_patterns, commit_message):
            calls["upload"] = (folder_path, repo_id, allow_patterns)
            return type("Info", (), {"oid": "f" * 40})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert publish_hub(repo, "org/htr", TOKEN) == "f" * 40
    assert calls["create"] == ("org/htr", True) and calls["token"] == TOKEN
    assert "model.pt" in calls["upload"][2] and "runs/**" in calls["upload"][2]
