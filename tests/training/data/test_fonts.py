"""The npm handwriting fonts: pinned, installed by `make setup`, found, checked glyph by glyph."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import ImageFont

from training.data import fonts
from training.data.charset import CHARSET
from training.data.fonts import NPM_DIR, find_fonts, glyph_renders, npm_font_path, npm_packages
from training.data.synthetic import SyntheticLines, render_line

needs_npm = pytest.mark.skipif(
    not (NPM_DIR / "node_modules").is_dir(),
    reason=f"npm fonts not installed in {NPM_DIR / 'node_modules'}: run `make fonts` "
    "(`make setup` and `make test` do)",
)
FRENCH = "Où êtes-vous? Ça, c'est l'été: « Noël » à 9 h, œuvre"


@pytest.fixture
def fresh_fonts():
    """find_fonts rescanned under a patched module, and the cache left clean for other tests."""
    find_fonts.cache_clear()
    yield
    find_fonts.cache_clear()


def _npm_fonts(found: tuple[fonts.Font, ...]) -> list[fonts.Font]:
    return [f for f in found if f.package.startswith("@fontsource/")]


def test_npm_fonts_are_pinned_to_exact_locked_versions():
    pinned = npm_packages()
    assert len(pinned) >= 30
    lock = json.loads((NPM_DIR / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == pinned, "run `npm install` in fonts/"
    for name, version in pinned.items():
        assert name.startswith("@fontsource/") and re.fullmatch(r"\d+\.\d+\.\d+", version), name
        entry = lock["packages"][f"node_modules/{name}"]
        assert entry["version"] == version and entry["integrity"].startswith("sha512-"), name
        assert entry["license"] in ("OFL-1.1", "Apache-2.0"), (name, entry["license"])


@needs_npm
def test_licence_list_is_up_to_date_with_the_installed_packages():
    done = subprocess.run(
        [sys.executable, str(NPM_DIR / "licences.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    listed = (NPM_DIR / "LICENSES.md").read_text(encoding="utf-8")
    for name, version in npm_packages().items():
        assert f"| `{name}` | {version} |" in listed, name


@needs_npm
def test_installed_npm_fonts_are_found_and_load():
    found = _npm_fonts(find_fonts(CHARSET))
    assert {f.path for f in found} == {npm_font_path(p) for p in npm_packages()}
    for font in found:
        pil = ImageFont.truetype(str(font.path), 32)
        assert set(FRENCH) <= font.covers, font.name
        for ch in "aÉçœ€«":
            assert glyph_renders(pil, ch), (font.name, ch)


@needs_npm
def test_a_font_lacking_a_glyph_is_not_used_for_it(monkeypatch):
    # Their Latin subset has no Ÿ (it is in latin-ext) and none has a CJK ideograph.
    found = find_fonts(CHARSET + "\u4e2d")
    for font in _npm_fonts(found):
        assert not {"Ÿ", "\u4e2d"} & font.covers, font.name
        assert not glyph_renders(ImageFont.truetype(str(font.path), 32), "\u4e2d"), font.name
    gen = SyntheticLines(seed=2)
    monkeypatch.setattr(gen, "texts", lambda rng: "ŸVES À L'ÉCOLE")
    assert not _npm_fonts(tuple(gen.pick(i)[2] for i in range(200)))
    monkeypatch.setattr(gen, "texts", lambda rng: "YVES À L'ÉCOLE")
    assert _npm_fonts(tuple(gen.pick(i)[2] for i in range(50))), "npm fonts draw the rest"


@needs_npm
def test_a_font_lacking_a_required_letter_is_refused(fresh_fonts, monkeypatch, caplog):
    monkeypatch.setattr(fonts, "REQUIRED", fonts.REQUIRED + "Ÿ")
    with caplog.at_level(logging.INFO, logger="training.data.fonts"):
        found = find_fonts(CHARSET)
    assert not _npm_fonts(found) and found, "npm fonts lack Ÿ: all refused, Debian ones kept"
    assert "caveat-latin-400-normal.woff skipped: lacks Ÿ" in caplog.text


@needs_npm
def test_generator_draws_lines_with_npm_fonts():
    gen = SyntheticLines(seed=0)
    drawn = [gen[i] for i in range(40)]
    npm = [s for s in drawn if s.meta["font"].endswith("-latin-400-normal")]
    assert len(npm) >= 10, [s.meta["font"] for s in drawn]
    for s in npm:  # ink on paper: hairline scripts cover less than 5% of a line, not 1%
        assert np.median(s.image) > np.percentile(s.image, 1) + 20, (s.meta["font"], s.text)
    shapes = set()
    for font in _npm_fonts(gen.fonts):
        mask, _ = render_line(FRENCH, font, 30)
        assert mask.max() > 0.5 and mask[0].max() == 0 and mask[-1].max() == 0, font.name
        shapes.add(mask.tobytes())
    assert len(shapes) == len(_npm_fonts(gen.fonts)), "two npm fonts drew the same line"


def test_without_npm_fonts_the_debian_ones_are_used_and_the_remedy_named(
    fresh_fonts, monkeypatch, tmp_path, caplog
):
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {}}), encoding="utf-8")
    monkeypatch.setattr(fonts, "NPM_DIR", tmp_path)
    with caplog.at_level(logging.WARNING, logger="training.data.fonts"):
        found = find_fonts(CHARSET)
    assert found and not _npm_fonts(found)
    assert "run `make fonts`" in caplog.text
