"""The Space as `app.main` serves it, with a stub line finder in front of the model file.

The tests' tiny model has no trained finder, so the stub finds each band of dark rows as one
line (a box and its bottom edge as baseline): the browser test reads a page with known lines,
the unit tests (through the `load_script` fixture) a page with known lines and readings.
Run as a script it serves the configured model (HTR_MODEL_DIR, ...) behind the stub.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

INK = 128  # grey levels under this are ink
PAD = 4  # pixels of paper kept around a band


def _grey(image: torch.Tensor) -> torch.Tensor:
    return image.float() if image.dim() == 2 else image[..., :3].float().mean(dim=2)


def _bands(rows: list[bool]) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of inked rows."""
    bands, start = [], None
    for y, inked in enumerate(rows + [False]):
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            bands.append((start, y))
            start = None
    return bands


class StubFinder:
    """A model file that reads pages: the stub's finder, and `module` for all else."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def reads_pages(self) -> bool:
        return True

    def find_lines(self, image: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        ink = _grey(image) < INK
        height, width = ink.shape
        found = []
        for top, bottom in _bands(ink.any(dim=1).tolist()):
            cols = ink[top:bottom].any(dim=0).nonzero().flatten()
            x0, x1 = max(int(cols[0]) - PAD, 0), min(int(cols[-1]) + 1 + PAD, width)
            y0, y1 = max(top - PAD, 0), min(bottom + PAD, height)
            polygon = torch.tensor([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=torch.float32)
            baseline = torch.tensor([[x0, bottom], [x1, bottom]], dtype=torch.float32)
            found.append((polygon, baseline))
        return found

    def cut_lines(self, image: torch.Tensor, lines: list) -> list[torch.Tensor]:
        grey = _grey(image).to(torch.uint8)
        crops = []
        for polygon, _ in lines:
            (x0, y0), (x1, y1) = polygon.min(dim=0).values, polygon.max(dim=0).values
            crops.append(grey[int(y0) : int(y1), int(x0) : int(x1)].contiguous())
        return crops


def main() -> None:
    """Serve the Space with every loaded model behind the stub finder."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from space import app, backend

    load = backend.load_local_model

    def behind_stub() -> Any:
        loaded = load()
        loaded.module = StubFinder(loaded.module)
        return loaded

    backend.load_local_model = behind_stub  # type: ignore[assignment]
    app.main()


if __name__ == "__main__":
    main()
