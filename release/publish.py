"""Publish model_repo/ to a git + LFS remote (the local "Hub" by default) or the real Hub.

`python -m release.publish [--remote URL | --repo-id ORG/NAME]`: commits the folder into a
repository where weights and event files are Git LFS objects, tags the version, pushes, and
prints the commit to pin. Publishing the same files twice makes no new commit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from htr.errors import DataError, HTRError, InternalError
from release.card import write_card
from training.runs import wandb_env, wandb_id

log = logging.getLogger("release.publish")
DEFAULT_REMOTE = Path(".hub/htr-line-recognizer.git")  # the embedded local "Hub"
PUBLISHED = ("model.pt", "config.json", "eval.json", "README.md", ".gitattributes", "runs")


# git asks this script for the password; it prints the variable, never stores the token.
ASKPASS = (
    '#!/bin/sh\ncase "$1" in Username*) echo user;; *) printf %s "$HTR_PUBLISH_TOKEN";; esac\n'
)


class Git:
    """Runs git in one work tree; a token reaches git only through the environment."""

    def __init__(self, tree: Path, askpass: Path | None = None, token: str | None = None) -> None:
        self.tree = tree
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "0"}
        if token and askpass:
            self.env.update(GIT_ASKPASS=str(askpass), HTR_PUBLISH_TOKEN=token)

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.tree, env=self.env, capture_output=True, text=True
        )
        if check and proc.returncode:
            raise InternalError(
                f"git {args[0]} failed in {self.tree}: {_redact(proc.stderr.strip(), self.env)}"
            )
        return proc.stdout.strip()


def _redact(text: str, env: dict[str, str]) -> str:
    token = env.get("HTR_PUBLISH_TOKEN")
    return text.replace(token, "***") if token else text


def ensure_local_remote(path: Path) -> str:
    """Create the bare repository of the local Hub if needed; returns its path."""
    if not (path / "HEAD").exists():
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(path)], check=True)
        log.info("created the local Hub at %s", path)
    return str(path.resolve())


def _checkout(remote: str, work: Path, askpass: Path | None, token: str | None) -> Git:
    if (work / ".git").exists():
        shutil.rmtree(work)  # a clean clone each time: nothing stale is published
    work.parent.mkdir(parents=True, exist_ok=True)
    Git(work.parent, askpass, token)("clone", "-q", remote, str(work))
    git = Git(work, askpass, token)
    git("lfs", "install", "--local")
    git("config", "user.name", os.environ.get("GIT_AUTHOR_NAME", "htr publish"))
    git("config", "user.email", os.environ.get("GIT_AUTHOR_EMAIL", "publish@htr.local"))
    if not git("rev-parse", "--verify", "-q", "HEAD", check=False):
        git("checkout", "-q", "-b", "main")
    return git


def _copy_tree(repo: Path, work: Path) -> None:
    for name in PUBLISHED:  # what model_repo no longer has is removed from the Hub too
        src, dst = repo / name, work / name
        if dst.is_dir():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
        if src.is_dir():
            shutil.copytree(src, dst)
        elif src.exists():
            shutil.copy2(src, dst)


def check_exported(repo: Path, *extra: str) -> None:
    """Refuse early, with the remedy, when the export has not been run."""
    for needed in ("model.pt", "config.json", *extra):
        if not (repo / needed).exists():
            raise DataError(
                f"{repo / needed} is missing; run `python -m release.export "
                "CHECKPOINT` first (`python -m release.publish` fills README.md)"
            )


def publish_git(repo: Path, remote: str, work: Path, token: str | None = None) -> str:
    """Commit `repo` into `remote` through LFS, tag the version, push; returns the commit."""
    check_exported(repo, "README.md")
    work = work.resolve()  # git runs in other folders: relative paths would move
    if token and not _is_hub(remote):
        token = None  # the Hub's token goes to the Hub only, never to another host
    with tempfile.TemporaryDirectory() as tmp:
        askpass = Path(tmp) / "askpass.sh"
        askpass.write_text(ASKPASS)
        askpass.chmod(0o700)
        return _commit_and_push(repo, _checkout(remote, work, askpass, token))


def _is_hub(remote: str) -> bool:
    return urllib.parse.urlsplit(remote).hostname in ("huggingface.co", "hf.co")


def _commit_and_push(repo: Path, git: Git) -> str:
    work = git.tree
    _copy_tree(repo, work)
    git("add", "-A")
    version = json.loads((repo / "config.json").read_text())["version"]
    changed = bool(git("status", "--porcelain"))
    tagged = git("rev-list", "-n", "1", version, check=False) if git("tag", "-l", version) else ""
    # one version, one commit: checked before anything is pushed, so a refused publish
    # leaves the remote as it was
    if tagged and (changed or tagged != git("rev-parse", "HEAD")):
        raise DataError(
            f"tag {version} already names commit {tagged[:12]} on the remote; "
            "export again (the version changes with the code's commit and the checkpoint) "
            "and publish; nothing was pushed"
        )
    if changed:
        git("commit", "-q", "-m", f"Publish model {version}")
        git("push", "-q", "origin", "HEAD:main")
        log.info("pushed a new commit")
    else:
        log.info("nothing changed since the last publish: no new commit")
    commit = git("rev-parse", "HEAD")
    if not tagged:
        git("tag", version)
        git("push", "-q", "origin", version)
    return commit


def publish_hub(repo: Path, repo_id: str, token: str | None) -> str:
    """Upload through the Hub's HTTP API (create_repo + upload_folder); returns the commit."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(repo),
        repo_id=repo_id,
        allow_patterns=[f"{p}*" if p == "runs" else p for p in PUBLISHED] + ["runs/**"],
        commit_message="Publish model",
    )
    return info.oid


def log_wandb_artifact(repo: Path) -> str | None:
    """Log model.pt as a W&B model artifact (aliases latest + version) on its training run."""
    config = json.loads((repo / "config.json").read_text())
    log_cfg = config["training_config"]["log"]
    mode = os.environ.get("WANDB_MODE", log_cfg["wandb"])
    run_dir = Path(log_cfg["root"]) / log_cfg["name"]
    if mode == "disabled" or not run_dir.is_dir():
        log.info("W&B artifact skipped (mode %s, run folder %s)", mode, run_dir)
        return None
    import wandb

    wandb_env(run_dir, mode)
    run = wandb.init(
        project=log_cfg["wandb_project"],
        id=wandb_id(run_dir),
        resume="allow",
        mode=mode,
        dir=str(run_dir),
    )
    artifact = wandb.Artifact(
        "htr-line-recognizer",
        type="model",
        metadata={k: config[k] for k in ("version", "git_commit")},
    )
    artifact.add_file(str(repo / "model.pt"))
    run.log_artifact(artifact, aliases=["latest", config["version"]])
    run.finish()
    return config["version"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: prints the commit hash to pin."""
    p = argparse.ArgumentParser(prog="python -m release.publish", description=__doc__)
    p.add_argument("--repo", type=Path, default=Path("model_repo"))
    p.add_argument("--remote", default=None, help=f"git remote (default: {DEFAULT_REMOTE})")
    p.add_argument("--repo-id", default=None, help="publish with huggingface_hub instead")
    p.add_argument("--name", default="htr-line-recognizer")
    p.add_argument("--work", type=Path, default=Path("cache/publish"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    token = os.environ.get("HF_TOKEN")
    try:
        check_exported(args.repo)
        repo_id = args.repo_id or f"local/{args.name}"
        version = json.loads((args.repo / "config.json").read_text())["version"]
        write_card(args.repo, name=args.name, repo_id=repo_id, revision=version)
        if args.repo_id:
            commit = publish_hub(args.repo, args.repo_id, token)
        else:
            remote = args.remote or ensure_local_remote(DEFAULT_REMOTE)
            commit = publish_git(args.repo, remote, args.work / args.name, token)
    except HTRError as e:
        log.error("%s", e)
        return 2
    sys.stdout.write(f"{commit}\n")  # the push is done: print the commit whatever W&B does
    try:
        log_wandb_artifact(args.repo)
    except Exception as e:  # noqa: BLE001 - the artifact is a courtesy copy, not the release
        log.warning("W&B artifact not logged: %s", e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
