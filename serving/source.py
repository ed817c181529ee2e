"""Where the Space gets model.pt: a Hub repo at a pinned revision, a git URL, or a folder."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
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
        return path
    if source.kind == "hub":
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source.location, "model.pt", revision=source.revision))
    return _git_checkout(source.location, source.revision)


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if proc.returncode:
        raise ModelUnavailable(
            f"git {args[0]} failed: {proc.stderr.strip()[-300:]}; check "
            "HTR_MODEL_GIT and HTR_MODEL_REVISION, or run `make demo`"
        )
    return proc.stdout.strip()


def _git_checkout(url: str, revision: str) -> Path:
    """Clone once into the cache, then fetch and check out `revision` (weights via LFS)."""
    work = CACHE / "models" / Path(url.rstrip("/")).name.removesuffix(".git")
    if not (work / ".git").exists():
        if work.exists():
            shutil.rmtree(work)
        work.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "-q", url, str(work))
    else:
        _git("fetch", "-q", "--tags", "origin", cwd=work)
    target = revision if revision != "main" else "origin/main"
    _git("checkout", "-q", "--detach", target, cwd=work)
    _git("lfs", "pull", cwd=work)
    path = work / "model.pt"
    if not path.is_file() or path.read_bytes()[:40].startswith(b"version https://git-lfs"):
        raise ModelUnavailable(f"{url}@{revision} has no model.pt content; publish one first")
    return path


def resolved_revision(path: Path) -> str:
    """The commit a git checkout is at (shown in the UI), or '' for other sources."""
    if (path.parent / ".git").exists():
        return _git("rev-parse", "--short=12", "HEAD", cwd=path.parent)
    return ""
