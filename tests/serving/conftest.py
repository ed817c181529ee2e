"""Fixtures of the command-line tests: a folder of scans and the command itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _png(path: Path, size=(240, 160), shade: int = 230) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], shade, np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def write_png():
    """Writer of plain grey PNG scans: write_png(path, size=(240, 160))."""
    return _png


@pytest.fixture
def scans(tmp_path) -> Path:
    """scans/good1.png, scans/sub/good2.jpg (a subfolder), scans/broken.png (an image suffix,
    bytes no decoder reads) and scans/notes.txt (not an image, never read)."""
    folder = tmp_path / "scans"
    _png(folder / "good1.png")
    _png(folder / "sub" / "good2.jpg")
    (folder / "broken.png").write_bytes(b"GIF89a not really")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _read(*args: str) -> int:
    from htr.__main__ import main

    try:
        return main(["read", *args])
    except SystemExit as e:  # argparse's usage errors
        return int(e.code or 0)


@pytest.fixture(scope="session")
def htr_read():
    """`python -m htr read ARGS` in this process: htr_read(*args) -> its exit status."""
    return _read


def _outputs(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def outputs():
    """Lister of the files under a folder, relative and sorted: outputs(folder)."""
    return _outputs
