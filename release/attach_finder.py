"""Give a published model file a line finder: `python -m release.attach_finder MODEL FINDER`.

For a model.pt whose training checkpoint is not at hand (a release downloaded from the Hub):
the new file holds the same recognizer, character set, LM, decoding and calibration, plus the
finder of a `python -m training.finder` checkpoint, and passes export's checks for lines and
pages. Its config.json gains the finder's description and a version of its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from release.export import git_commit
from release.finder_export import load_finder
from release.finetune_export import finetuned_predictor, write_checked
from training.cli import run_command
from training.finetune import load_published

log = logging.getLogger("release.attach_finder")


def attach(model: Path, finder: Path, out_dir: Path) -> Path:
    """Write out_dir/model.pt: `model` with the finder of checkpoint `finder`."""
    pub = load_published(model)
    page_finder, finder_meta = load_finder(finder)
    meta = dict(pub.meta)
    # the page code is this commit's: the same finder weights read pages as this code does
    finder_meta["git_commit"] = git_commit()
    meta["finder"] = finder_meta
    digest = finder_meta["checkpoint_sha256"][:6]
    meta["version"] = f"{pub.scripted.version}-f{digest}-{finder_meta['git_commit'][:7]}"
    eager = finetuned_predictor(pub, pub.model.eval(), meta, page_finder)
    eager.meta_json = json.dumps(meta, ensure_ascii=False, indent=2)
    return write_checked(eager, out_dir)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(prog="python -m release.attach_finder", description=__doc__)
    p.add_argument("model", type=Path, help="a published model.pt")
    p.add_argument("finder", type=Path, help="a line-finder checkpoint")
    p.add_argument("--out", type=Path, default=Path("model_repo"))
    args = p.parse_args(argv)
    return run_command(log, lambda: attach(args.model, args.finder, args.out))


if __name__ == "__main__":
    sys.exit(main())
