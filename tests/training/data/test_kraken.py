"""Kraken line folders: NAME.png + NAME.gt.txt pairing, docs, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from htr.errors import DataError
from training.data.kraken import read_kraken_dir


def save_line(path: Path, text: str | None, height: int = 24) -> None:
    """Draw text on white paper into path; write path's .gt.txt unless text is None."""
    font = ImageFont.load_default(size=height * 2 // 3)
    img = Image.new("L", (int(font.getlength(text or "x")) + 8, height), 255)
    ImageDraw.Draw(img).text((4, height // 6), text or "x", fill=0, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    if text is not None:
        path.with_suffix(".gt.txt").write_text(text + "\n", encoding="utf-8")


@pytest.fixture
def kraken_dir(tmp_path: Path) -> Path:
    root = tmp_path / "gt"
    save_line(root / "page1" / "l02.png", "second line")
    save_line(root / "page1" / "l01.png", "first line")
    save_line(root / "page2" / "sub" / "l01.jpg", "Ça marche")
    save_line(root / "page2" / "l01.bin.tif", "binarised")
    save_line(root / "loose.png", "at the root")
    return root


def test_reads_pairs_sorted_with_folder_docs(kraken_dir: Path) -> None:
    got = read_kraken_dir(kraken_dir)
    assert [s.text for s in got] == [
        "at the root",
        "first line",
        "second line",
        "binarised",
        "Ça marche",
    ]
    assert [s.doc for s in got] == ["gt", "page1", "page1", "page2", "page2/sub"]
    assert got[1].meta == {"source": "kraken", "image": "page1/l01.png"}
    for s in got:
        assert s.image.dtype == np.uint8 and s.image.shape[0] == 24
        assert s.image.min() < 100 and s.image.max() > 200


def test_missing_transcriptions_listed(kraken_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    for i in range(7):
        save_line(kraken_dir / "page3" / f"m{i}.png", None)
    with pytest.raises(DataError) as err:
        read_kraken_dir(kraken_dir)
    message = str(err.value)
    assert "7 line image(s) have no transcription" in message
    assert "page3/m0.png" in message and "and 2 more" in message and "NAME.gt.txt" in message
    with caplog.at_level(logging.WARNING):
        assert len(read_kraken_dir(kraken_dir, strict=False)) == 5
    assert "7 line image(s)" in caplog.text


def test_empty_transcription_skipped(kraken_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (kraken_dir / "page1" / "l02.gt.txt").write_text("  \n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        got = read_kraken_dir(kraken_dir)
    assert "second line" not in [s.text for s in got] and len(got) == 4
    assert "empty transcription" in caplog.text and "page1/l02.png" in caplog.text


def test_corrupt_image(kraken_dir: Path) -> None:
    bad = kraken_dir / "page1" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    bad.with_suffix(".gt.txt").write_text("text", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.png: cannot decode image"):
        read_kraken_dir(kraken_dir)
    assert len(read_kraken_dir(kraken_dir, strict=False)) == 5


def test_not_a_folder_or_empty(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        read_kraken_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no line images"):
        read_kraken_dir(tmp_path / "empty")
