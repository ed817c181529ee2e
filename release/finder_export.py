"""The line finder's part of an export: its checkpoint loaded, and the page entry points of the
scripted file checked against the eager module before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from htr.errors import DataError, InternalError
from recognizer.finder import FinderConfig, FinderNet
from recognizer.network import count_parameters
from recognizer.page_finder import PageFinder
from recognizer.predictor import LinePredictor
from training.cli import from_dict, to_dict


def load_finder(path: Path) -> tuple[PageFinder, dict[str, Any]]:
    """The serving finder of a `python -m training.finder` checkpoint, and what the model's
    config.json says about it."""
    if not path.is_file():
        raise DataError(f"finder checkpoint {path} does not exist; pass runs/finder/checkpoints/*")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    saved = ckpt.get("htr", {}) if isinstance(ckpt, dict) else {}
    if saved.get("kind") != "finder" or "state_dict" not in ckpt:
        raise DataError(
            f"{path} is not a line-finder checkpoint (no htr.kind 'finder'); pass a file "
            "written by `python -m training.finder`"
        )
    config = from_dict(FinderConfig, saved["config"]["model"], "model")
    net = FinderNet(config)
    names = set(net.state_dict())
    # the LightningModule holds the network under one attribute: strip its name
    state = {k.partition(".")[2]: v for k, v in ckpt["state_dict"].items()}
    net.load_state_dict({k: v for k, v in state.items() if k in names})
    from training.data.download import sha256_file

    meta = {
        "type": "fully convolutional line finder: baseline and region maps",
        **to_dict(config),
        "parameters": count_parameters(net),
        "checkpoint": path.name,
        "checkpoint_sha256": sha256_file(path),
        "training_config": saved["config"],
    }
    return PageFinder(net.eval(), config), meta


def check_page() -> torch.Tensor:
    """A page with ruled ink strokes on light paper: something for the finder to find."""
    page = torch.full((480, 360), 230, dtype=torch.uint8)
    for y in range(60, 420, 40):
        page[y - 12 : y, 30:330:2] = 30
    return page


def verify_pages(eager: LinePredictor, scripted: torch.jit.ScriptModule) -> None:
    """Refuse to export unless scripted and eager find the same lines on check pages."""
    pages = [check_page(), torch.full((300, 200), 255, dtype=torch.uint8)]
    with torch.no_grad():
        for i, page in enumerate(pages):
            e, s = eager.find_lines(page), scripted.find_lines(page)
            same = len(e) == len(s) and all(
                torch.allclose(a[0], b[0], atol=0.5) and torch.allclose(a[1], b[1], atol=0.5)
                for a, b in zip(e, s, strict=True)
            )
            if not same:
                raise InternalError(
                    f"check page {i}: eager found {len(e)} lines, scripted {len(s)} or at "
                    "other places; nothing was written"
                )
