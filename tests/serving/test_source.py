"""Model sources: a folder, and a git + LFS remote pinned to a revision (the local Hub)."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def _git(work: Path, *args: str) -> str:
    """Run git in `work` as a test author; its output."""
    ident = ("-c", "user.name=test", "-c", "user.email=test@htr.local")
    proc = subprocess.run(["git", *ident, *args], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _remote(folder: Path, content: bytes) -> tuple[str, Path]:
    """A bare git + LFS remote FOLDER/htr-line-recognizer.git whose main holds model.pt =
    `content` (tagged v1); returns its location and the work tree that pushes to it."""
    remote = ensure_local_remote(folder / "htr-line-recognizer.git")
    work = folder / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    _git(work, "remote", "add", "origin", remote)
    _git(work, "lfs", "install", "--local")
    _git(work, "lfs", "track", "model.pt")
    _push(work, content)
    return remote, work


def _push(work: Path, content: bytes, rewrite: bool = False) -> str:
    """Commit model.pt = `content` (amending main's commit where `rewrite`), force-push main
    and tag v1 there; returns the commit."""
    (work / "model.pt").write_bytes(content)
    _git(work, "add", "model.pt", ".gitattributes")
    _git(work, "commit", "-q", "-m", "model", *(["--amend"] if rewrite else []))
    _git(work, "tag", "-f", "v1")
    _git(work, "push", "-q", "--force", "origin", "HEAD:main", "refs/tags/v1")
    return _git(work, "rev-parse", "HEAD")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty model cache for the test."""
    monkeypatch.setattr(source, "CACHE", tmp_path / "cache")
    return tmp_path / "cache"


def test_remotes_with_the_same_name_never_share_a_clone(tmp_path, cache):
    a, _ = _remote(tmp_path / "a", b"model A")
    b, _ = _remote(tmp_path / "b", b"model B")
    assert Path(a).name == Path(b).name
    sa, sb = source.ModelSource("git", a, "main"), source.ModelSource("git", b, "main")
    path_a = source.fetch(sa)
    assert source.fetch(sb).read_bytes() == b"model B"
    assert source.fetch(sa).read_bytes() == b"model A" and path_a.read_bytes() == b"model A"
    assert source.describe(sb, source.fetch(sb)) == f"{b} @ {_git(Path(b), 'rev-parse', 'main')}"
    with pytest.raises(ModelUnavailable, match="not of"):
        source.describe(sb, path_a)  # a checkout of another location is never reported as b


def test_force_pushed_branch_and_moved_tag_serve_the_new_commit(tmp_path, cache):
    remote, work = _remote(tmp_path / "hub", b"old model")
    old = _git(work, "rev-parse", "HEAD")
    for revision in ("main", "v1", old[:12]):
        assert (
            source.fetch(source.ModelSource("git", remote, revision)).read_bytes() == b"old model"
        )
    new = _push(work, b"new model", rewrite=True)
    for revision in ("main", "v1", new):
        git = source.ModelSource("git", remote, revision)
        assert source.fetch(git).read_bytes() == b"new model"
        assert source.checked_out(git, source.fetch(git)) == new
    with pytest.raises(ModelUnavailable, match=f"no branch, tag or commit '{old}'"):
        source.fetch(source.ModelSource("git", remote, old))  # rewritten away


def test_a_cache_that_fetches_from_elsewhere_is_not_reused(tmp_path, cache):
    a, _ = _remote(tmp_path / "a", b"model A")
    b, _ = _remote(tmp_path / "b", b"model B")
    sa = source.ModelSource("git", a, "main")
    clone = source.cache_dir(a)
    clone.mkdir(parents=True)  # a cut-off clone: no .git
    assert source.fetch(sa).read_bytes() == b"model A"
    _git(clone, "remote", "set-url", "origin", b)  # tampered, or an older layout's clone
    assert source.fetch(sa).read_bytes() == b"model A"
    assert _git(clone, "remote", "get-url", "origin") == a
    assert not [p for p in clone.parent.iterdir() if ".partial-" in p.name]


def test_unknown_revision_names_the_location_and_the_remedy(tmp_path, cache):
    remote, _ = _remote(tmp_path / "hub", b"model")
    with pytest.raises(ModelUnavailable) as err:
        source.fetch(source.ModelSource("git", remote, "v9"))
    assert remote in str(err.value) and "'v9'" in str(err.value)
    assert "HTR_MODEL_REVISION" in str(err.value) and "ls-remote" in str(err.value)


def test_describe_names_the_folder(tiny_model_file):
    folder = source.ModelSource("folder", str(tiny_model_file.parent), "local")
    assert source.describe(folder, source.fetch(folder)) == str(tiny_model_file.parent.resolve())
