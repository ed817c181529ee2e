"""Where the Space gets model.pt: a Hub repo at a pinned revision, a git URL, or a folder."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from serving.errors import ModelUnavailable

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GIT = ROOT / ".hub" / "htr-line-recognizer.git"  # what `make demo` publishes to
CACHE = Path(os.environ.get("HTR_CACHE", Path.home() / ".cache" / "htr"))


@dataclass
class ModelSource:
    """The configured source, in order of precedence (see `from_env`)."""

    kind: str  # hub | git | folder
    location: str
    revision: str

    @classmethod
    def from_env(cls) -> ModelSource:
        """HTR_HUB_REPO_ID (+HTR_HUB_REVISION), else HTR_MODEL_GIT (+HTR_MODEL_REVISION),
        else HTR_MODEL_DIR, else the local Hub that `make demo` published to."""
        env = os.environ
        if env.get("HTR_HUB_REPO_ID"):
            return cls("hub", env["HTR_HUB_REPO_ID"], env.get("HTR_HUB_REVISION", "main"))
        if env.get("HTR_MODEL_GIT"):
            return cls("git", env["HTR_MODEL_GIT"], env.get("HTR_MODEL_REVISION", "main"))
        if env.get("HTR_MODEL_DIR"):
            return cls("folder", env["HTR_MODEL_DIR"], "local")
        return cls("git", str(DEFAULT_GIT), env.get("HTR_MODEL_REVISION", "main"))


def fetch(source: ModelSource) -> Path:
    """A local model.pt for the source; downloads are cached, so restarts fetch nothing."""
    if source.kind == "folder":
        path = Path(source.location) / "model.pt"
        if not path.is_file():
            raise ModelUnavailable(f"{path} does not exist; export a model into that folder")
    elif source.kind == "hub":
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source.location, "model.pt", revision=source.revision))
    else:
        path = _git_checkout(location(source), source.revision)
    log.info("model %s", describe(source, path))
    return path


def location(source: ModelSource) -> str:
    """The source's location, normalised: a local path made absolute, a URL as written."""
    if source.kind == "hub":
        return source.location
    if source.kind == "git" and _is_url(source.location):
        return source.location.rstrip("/")
    return str(Path(source.location).expanduser().resolve())


def _is_url(text: str) -> bool:
    """A URL (scheme://...) or scp-like address (user@host:path), not a local path."""
    return "://" in text or re.match(r"^[\w.-]+@[\w.-]+:", text) is not None


def checked_out(source: ModelSource, path: Path) -> str:
    """The commit `path` was fetched at: the checkout's HEAD (git), the snapshot (Hub), or ''."""
    if source.kind == "hub":
        return path.parent.name  # the Hub cache keeps files under snapshots/COMMIT/
    if source.kind != "git":
        return ""
    work, where = path.parent, location(source)
    origin = _origin(work)
    if origin != where:
        raise ModelUnavailable(
            f"{path} is a checkout of {origin or 'no remote'}, not of {where}; "
            "fetch the model from the configured source (serving.source.fetch)"
        )
    return _git("rev-parse", "HEAD", cwd=work)


def describe(source: ModelSource, path: Path) -> str:
    """Which model was loaded: 'LOCATION @ COMMIT' (git, Hub) or the folder."""
    commit = checked_out(source, path)
    return f"{location(source)} @ {commit}" if commit else str(path.parent.resolve())


def cache_dir(url: str) -> Path:
    """The clone of one git location: the repository's name plus a hash of where it is."""
    name = Path(url.rstrip("/")).name.removesuffix(".git") or "model"
    return CACHE / "models" / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if check and proc.returncode:
        raise ModelUnavailable(
            f"git {args[0]} failed: {proc.stderr.strip()[-300:]}; check "
            "HTR_MODEL_GIT and HTR_MODEL_REVISION, or run `make demo`"
        )
    return proc.stdout.strip() if not proc.returncode else ""


def _git_checkout(url: str, revision: str) -> Path:
    """Clone once into the cache, then fetch and check out `revision` (weights via LFS)."""
    work = cache_dir(url)
    if _is_clone_of(work, url):
        # forced: branches and tags rewritten on the remote replace the cached ones
        _git("fetch", "-q", "--force", "--prune", "--prune-tags", "--tags", "origin", cwd=work)
    else:
        _clone(url, work)
    commit = _remote_commit(work, url, revision)
    _git("checkout", "-q", "--force", "--detach", commit, cwd=work)
    _git("lfs", "pull", cwd=work)
    path = work / "model.pt"
    if not path.is_file() or path.read_bytes()[:40].startswith(b"version https://git-lfs"):
        raise ModelUnavailable(f"{url}@{revision} has no model.pt content; publish one first")
    return path


def _origin(work: Path) -> str:
    """The URL a clone fetches from, or '' where `work` is no clone."""
    if not (work / ".git").is_dir():
        return ""
    return _git("config", "--get", "remote.origin.url", cwd=work, check=False)


def _is_clone_of(work: Path, url: str) -> bool:
    """Whether `work` is a complete clone whose origin is `url`."""
    origin = _origin(work)
    if work.exists() and origin != url:
        log.warning("%s is not a clone of %s (origin %r): cloning again", work, url, origin)
    return origin == url


def _clone(url: str, work: Path) -> None:
    """Clone into a temporary sibling, then rename: a cut-off clone never counts as cached."""
    work.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{work.name}.partial-", dir=work.parent))
    try:
        _git("clone", "-q", url, str(tmp / "clone"))
        if work.exists() and _origin(work) != url:
            shutil.rmtree(work)
        if not work.exists():  # else another process has just cloned the same location
            (tmp / "clone").rename(work)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _commit(work: Path, revision: str) -> str:
    """The commit `revision` names in the clone, or ''."""
    return _git("rev-parse", "-q", "--verify", f"{revision}^{{commit}}", cwd=work, check=False)


def _remote_commit(work: Path, url: str, revision: str) -> str:
    """The commit `revision` names on the remote: a tag, a branch, or a commit one reaches."""
    for ref in (f"refs/tags/{revision}", f"refs/remotes/origin/{revision}"):
        if commit := _commit(work, ref):
            return commit
    if re.fullmatch(r"[0-9a-fA-F]{4,40}", revision) and (commit := _commit(work, revision)):
        # a commit that no remote branch or tag reaches any more was rewritten away
        refs = ("refs/remotes/origin", "refs/tags")
        if _git("for-each-ref", "--contains", commit, *refs, cwd=work):
            return commit
    raise ModelUnavailable(
        f"{url} has no branch, tag or commit {revision!r}; set HTR_MODEL_REVISION to one "
        f"it has (`git ls-remote {url}` lists them), or publish that revision first"
    )


def resolved_revision(path: Path) -> str:
    """The commit a git checkout is at (shown in the UI), or '' for other sources."""
    if (path.parent / ".git").exists():
        return _git("rev-parse", "--short=12", "HEAD", cwd=path.parent)
    return ""
