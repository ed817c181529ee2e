"""Model sources: a folder, and a git + LFS remote pinned to a revision (the local Hub)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from release.publish import ensure_local_remote, publish_git
from serving import source
from serving.errors import ModelUnavailable

ROOT = Path(__file__).resolve().parents[2]


def test_precedence(monkeypatch):
    for var in ("HTR_HUB_REPO_ID", "HTR_MODEL_GIT", "HTR_MODEL_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert source.ModelSource.from_env().location.endswith(".hub/htr-line-recognizer.git")
    monkeypatch.setenv("HTR_MODEL_DIR", "/m")
    assert source.ModelSource.from_env().kind == "folder"
    monkeypatch.setenv("HTR_MODEL_GIT", "/g.git")
    assert source.ModelSource.from_env().kind == "git"
    monkeypatch.setenv("HTR_HUB_REPO_ID", "org/name")
    monkeypatch.setenv("HTR_HUB_REVISION", "abc")
    assert source.ModelSource.from_env() == source.ModelSource("hub", "org/name", "abc")


def test_folder_source(tiny_model_file, tmp_path):
    assert (
        source.fetch(source.ModelSource("folder", str(tiny_model_file.parent), ""))
        == tiny_model_file
    )
    with pytest.raises(ModelUnavailable, match="does not exist"):
        source.fetch(source.ModelSource("folder", str(tmp_path), ""))


def test_git_source_at_a_pinned_revision_is_cached(tiny_model_file, tmp_path, monkeypatch):
    repo = tmp_path / "model_repo"
    shutil.copytree(tiny_model_file.parent, repo)
    (repo / "README.md").write_text("card")
    remote = ensure_local_remote(tmp_path / "hub.git")
    commit = publish_git(repo, remote, tmp_path / "work")
    version = json.loads((repo / "config.json").read_text())["version"]
    monkeypatch.setattr(source, "CACHE", tmp_path / "cache")
    path = source.fetch(source.ModelSource("git", remote, version))
    assert path.read_bytes() == tiny_model_file.read_bytes()
    assert commit.startswith(source.resolved_revision(path))
    again = source.fetch(source.ModelSource("git", remote, commit))  # cached clone, fetched
    assert again == path
    with pytest.raises(ModelUnavailable, match="HTR_MODEL_REVISION"):
        source.fetch(source.ModelSource("git", remote, "no-such-revision"))
