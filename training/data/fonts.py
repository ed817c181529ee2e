"""Handwriting-style fonts for the synthetic generator: where they come from, what they cover."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from htr.errors import DataError

log = logging.getLogger(__name__)

# Debian packages that carry the fonts; `make setup` installs them (see Makefile: FONT_PACKAGES).
# Each font's licence is in /usr/share/doc/<package>/copyright on an installed machine.
FONT_FILES: dict[str, str] = {
    # file name: Debian package
    "dkg.ttf": "fonts-dkg-handwriting",
    "dkgIt.ttf": "fonts-dkg-handwriting",
    "dkgBd.ttf": "fonts-dkg-handwriting",
    "Breip.ttf": "fonts-breip",
    "SteveHand.ttf": "fonts-sjfonts",
    "Delphine.ttf": "fonts-sjfonts",
    "Kristi.ttf": "fonts-kristi",
    "DancingScript-Regular.otf": "fonts-dancingscript",
    "DancingScript-Bold.otf": "fonts-dancingscript",
    "KaushanScript-Regular.otf": "fonts-kaushanscript",
    "LobsterTwo-Regular.otf": "fonts-lobstertwo",
    "LobsterTwo-Italic.otf": "fonts-lobstertwo",
    "LeckerliOne-Regular.ttf": "fonts-leckerli-one",
    "ComicNeue-Regular.otf": "fonts-comic-neue",
    "ComicNeue-Italic.otf": "fonts-comic-neue",
    "Ecolier-court.ttf": "fonts-ecolier-court",
}
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
MIN_FONTS = 8  # the generator needs this many distinct fonts to look varied

# Letters a font must have to be used at all; rarer characters are checked per line.
REQUIRED = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-"
    "àâçéèêëîïôùûüÀÂÇÉÈÊÎÔÙÛ"
)


@dataclass(frozen=True)
class Font:
    """One font file and the characters it really renders."""

    path: Path
    package: str
    covers: frozenset[str]

    @property
    def name(self) -> str:
        return self.path.stem


def _search_dirs() -> list[Path]:
    extra = os.environ.get("HTR_FONT_DIRS", "")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [Path(p) for p in FONT_DIRS]


def _locate(file_name: str) -> Path | None:
    for root in _search_dirs():
        if root.is_dir():
            for hit in root.rglob(file_name):
                return hit
    return None


def glyph_renders(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    """True when `ch` draws ink that differs from the font's missing-glyph box."""
    if ch == " ":
        return True
    mask = font.getmask(ch)
    if mask.getbbox() is None:
        return False
    notdef = font.getmask("\ue000")  # private-use: every font draws .notdef (or nothing) for it
    return bytes(mask) != bytes(notdef) or mask.size != notdef.size


def coverage(path: Path, chars: str) -> frozenset[str]:
    """Characters of `chars` that the font at `path` renders with ink of their own."""
    from fontTools.ttLib import TTFont  # only needed when fonts are scanned

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # warns on harmless table quirks

    cmap = TTFont(str(path), lazy=True).getBestCmap() or {}
    font = ImageFont.truetype(str(path), 32)
    return frozenset(c for c in chars if (c == " " or ord(c) in cmap) and glyph_renders(font, c))


@lru_cache(maxsize=4)
def find_fonts(chars: str) -> tuple[Font, ...]:
    """The installed handwriting fonts that render every REQUIRED letter, with their coverage."""
    found: list[Font] = []
    for file_name, package in FONT_FILES.items():
        path = _locate(file_name)
        if path is None:
            log.debug("font %s (Debian %s) not installed", file_name, package)
            continue
        covers = coverage(path, chars)
        missing = set(REQUIRED) - covers
        if missing:
            log.info("font %s skipped: lacks %s", file_name, "".join(sorted(missing)))
            continue
        found.append(Font(path, package, covers))
    if len(found) < MIN_FONTS:
        packages = " ".join(sorted(set(FONT_FILES.values())))
        raise DataError(
            f"only {len(found)} handwriting fonts found (need {MIN_FONTS}) in "
            f"{[str(d) for d in _search_dirs()]}; run `make setup` as root, or "
            f"`apt-get install {packages}`, or point HTR_FONT_DIRS at a folder holding them"
        )
    return tuple(found)


@lru_cache(maxsize=512)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font at a pixel size (opening a font file costs about a millisecond)."""
    return ImageFont.truetype(str(path), size)
