"""Tesseract 5, the peer users would otherwise pick, run on exactly our line images.

Debian's `tesseract-ocr` with English and French (`make bench` installs them), one line per
call with `--psm 7` (treat the image as a single text line).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from htr.errors import ConfigError

LANGS = "eng+fra"
BORDER = 16  # px of paper around the line: Tesseract segments badly against the image edge
INSTALL = "run `make bench` as root, or `apt-get install tesseract-ocr tesseract-ocr-fra`"


def version() -> str:
    """Tesseract's version string; fails clearly when it or a language is missing."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise ConfigError(f"tesseract is not installed; {INSTALL}")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"tesseract (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    missing = [lang for lang in LANGS.split("+") if lang not in _tessdata()[1]]
    if missing:
        raise ConfigError(f"tesseract lacks the language data {missing}; {INSTALL}")
    return found.group(1) if found else "unknown"


@lru_cache(maxsize=1)
def _tessdata() -> tuple[Path, tuple[str, ...]]:
    """Tesseract's language folder and the languages in it (one `--list-langs` call)."""
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    folder = re.search(r'"(.+?)"', text)
    root = Path(folder.group(1)) if folder else Path("/usr/share/tesseract-ocr/5/tessdata")
    return root, tuple(out.stdout.split())


def traineddata_bytes() -> int:
    """On-disk size of the language models this comparison loads."""
    root = _tessdata()[0]
    return sum((root / f"{lang}.traineddata").stat().st_size for lang in LANGS.split("+"))


def padded(image: np.ndarray) -> Image.Image:
    """The line (H, W) uint8 on a border of its own paper colour."""
    paper = int(np.percentile(image, 90))
    return ImageOps.expand(Image.fromarray(image), border=BORDER, fill=paper)


def read_file(path: Path) -> str:
    """Tesseract's reading of one line image file, on one thread."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread per call; parallel across calls
    proc = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "7", "-l", LANGS],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode:
        raise RuntimeError(f"tesseract failed on {path}: {proc.stderr.strip()[-300:]}")
    return " ".join(proc.stdout.split())  # one line: collapse its newlines and spacing


def read_lines(images: list[np.ndarray], jobs: int) -> list[str]:
    """Tesseract's reading of every (H, W) uint8 line, `jobs` processes at a time."""
    with tempfile.TemporaryDirectory(prefix="tess-") as tmp:
        paths = []
        for i, img in enumerate(images):
            paths.append(Path(tmp) / f"{i:06d}.png")
            padded(img).save(paths[-1])
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(read_file, paths))
