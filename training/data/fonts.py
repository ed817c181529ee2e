"""Handwriting-style fonts for the synthetic generator: where they come from, what they cover."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from htr.errors import DataError

log = logging.getLogger(__name__)

# Debian packages that carry the fonts; `make setup` installs them (Makefile: SYSTEM_PACKAGES).
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
# npm's @fontsource handwriting packages: fonts/package.json and its lockfile pin them,
# `make fonts` installs them into fonts/node_modules and fonts/LICENSES.md lists their licences.
NPM_DIR = Path(__file__).resolve().parents[2] / "fonts"
# Of each package, the Latin subset (Latin-1 with the French accents, œŒ, €, curly quotes) at
# weight 400 as WOFF, which FreeType reads with zlib alone; latin-ext adds only Ÿ of the charset.
NPM_FILE = "{family}-latin-400-normal.woff"
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


def npm_packages() -> dict[str, str]:
    """The pinned @fontsource packages of fonts/package.json, name: exact version."""
    manifest = NPM_DIR / "package.json"
    try:
        return dict(json.loads(manifest.read_text(encoding="utf-8"))["dependencies"])
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot read the font list {manifest}: {e}; restore it from git") from e


def npm_font_path(package: str) -> Path:
    """Where `make fonts` puts the Latin subset file of an @fontsource package."""
    family = package.rsplit("/", 1)[-1]
    return NPM_DIR / "node_modules" / package / "files" / NPM_FILE.format(family=family)


def _candidates() -> Iterator[tuple[str, str, Path | None]]:
    """(file name, package, installed path or None) of every Debian and npm font."""
    for file_name, package in FONT_FILES.items():
        yield file_name, package, _locate(file_name)
    if not (NPM_DIR / "node_modules").is_dir():
        log.warning("npm handwriting fonts not installed in %s: run `make fonts`", NPM_DIR)
        return
    for package in npm_packages():
        path = npm_font_path(package)
        if not path.is_file():
            log.warning("font %s of %s missing: run `make fonts` to reinstall", path, package)
        yield path.name, package, path if path.is_file() else None


@lru_cache(maxsize=4)
def find_fonts(chars: str) -> tuple[Font, ...]:
    """The installed handwriting fonts that render every REQUIRED letter, with their coverage."""
    found: list[Font] = []
    for file_name, package, path in _candidates():
        if path is None:
            log.debug("font %s (%s) not installed", file_name, package)
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
            f"{[str(d) for d in _search_dirs()]} and {NPM_DIR / 'node_modules'}; run "
            f"`make setup` as root (or `apt-get install {packages}` and `make fonts`), or "
            "point HTR_FONT_DIRS at a folder holding them"
        )
    return tuple(found)


# A generator draws each font at about 20 sizes (40-px lines) to 30 (64-px lines): room for all.
@lru_cache(maxsize=2048)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font at a pixel size (opening a font file costs about a millisecond)."""
    return ImageFont.truetype(str(path), size)
