"""WebDataset shard reader/writer: grouping, docs, errors, roundtrip, real shards."""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from htr.errors import DataError
from training.data.lines import LineSample
from training.data.webdataset import load_shard, read_shard, write_shard

REAL_LINES = Path(__file__).resolve().parents[3].parent / "shared/data/lines"


def line_image(text: str, height: int = 32) -> np.ndarray:
    """Dark text drawn on white paper, as a (H, W) uint8 array."""
    font = ImageFont.load_default(size=height * 2 // 3)
    width = int(font.getlength(text)) + 10
    img = Image.new("L", (width, height), 255)
    ImageDraw.Draw(img).text((5, height // 6), text, fill=0, font=font)
    return np.asarray(img).copy()


def encode(image: np.ndarray, fmt: str) -> bytes:
    """Image bytes in a PIL format."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def make_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A tar with the given (name, bytes) members, in order."""
    with tarfile.open(path, "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


class NonSeekable(io.RawIOBase):
    """A read-only stream that cannot seek, like a pipe or an HTTP body."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        chunk = self._buf.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


@pytest.fixture
def samples() -> list[LineSample]:
    texts = [("Hello world", "docA"), ("Grüße, Ça va?", "docA"), ("third line", "docB")]
    return [LineSample(line_image(t), t, d, {"source": "test"}) for t, d in texts]


def test_roundtrip(tmp_path: Path, samples: list[LineSample]) -> None:
    path = tmp_path / "out" / "shard.tar"
    assert write_shard(samples, path) == 3
    back = load_shard(path)
    assert [s.text for s in back] == [s.text for s in samples]
    assert [s.doc for s in back] == ["docA", "docA", "docB"]
    for orig, got in zip(samples, back, strict=True):
        assert got.image.dtype == np.uint8 and got.image.shape == orig.image.shape
        assert np.array_equal(got.image, orig.image)  # PNG is lossless
    assert back[0].meta == {"source": "test", "key": "00000000", "group": "docA"}
    with tarfile.open(path) as tf:
        assert tf.getnames()[:3] == ["00000000.png", "00000000.txt", "00000000.json"]
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_roundtrip_keeps_meta_keys(tmp_path: Path, samples: list[LineSample]) -> None:
    samples[0].meta["key"] = "pageA/line1"
    write_shard(samples, tmp_path / "s.tar")
    assert [s.meta["key"] for s in load_shard(tmp_path / "s.tar")] == [
        "pageA/line1",
        "00000001",
        "00000002",
    ]


def test_write_refuses_duplicate_key_and_keeps_old_shard(
    tmp_path: Path, samples: list[LineSample]
) -> None:
    path = tmp_path / "s.tar"
    write_shard(samples[:1], path)
    samples[2].meta["key"] = "00000001"
    with pytest.raises(DataError, match=r"'00000001' is used twice"):
        write_shard(samples, path)
    assert len(load_shard(path)) == 1  # the earlier shard is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tar"]


def test_write_refuses_dotted_key(tmp_path: Path, samples: list[LineSample]) -> None:
    samples[0].meta["key"] = "line.1"
    with pytest.raises(DataError, match="without dots"):
        write_shard(samples, tmp_path / "s.tar")


def test_jpg_members_json_docs_and_key_fallbacks(tmp_path: Path) -> None:
    img = line_image("abc")
    meta = {"source": "x", "page": "p.jpg", "group": "letter7", "line": 1}
    path = make_tar(
        tmp_path / "s.tar",
        [
            ("a_l001.jpg", encode(img, "JPEG")),
            ("a_l001.txt", b"first line \n"),
            ("a_l001.json", json.dumps(meta).encode()),
            ("./page9_l002.png", encode(img, "PNG")),
            ("./page9_l002.txt", "\ufeffsecond\n".encode()),
            ("book/p3.line.webp", encode(img, "WEBP")),
            ("book/p3.line.txt", b"third"),
            ("c_l1.jpeg", encode(img, "JPEG")),
            ("c_l1.txt", b"fourth"),
            ("c_l1.json", json.dumps({"page": "scan12.jpg"}).encode()),
        ],
    )
    got = load_shard(path)
    assert [s.text for s in got] == ["first line", "second", "third", "fourth"]
    assert [s.doc for s in got] == ["letter7", "page9", "book", "scan12.jpg"]
    assert [s.meta["key"] for s in got] == ["a_l001", "page9_l002", "book/p3", "c_l1"]
    assert got[0].meta["line"] == 1 and got[0].meta["source"] == "x"
    for s in got:
        assert s.image.dtype == np.uint8 and s.image.shape == img.shape
        assert s.image.min() < 100 and s.image.max() > 200  # ink on paper survives JPEG


def test_non_seekable_stream(tmp_path: Path, samples: list[LineSample]) -> None:
    write_shard(samples, tmp_path / "s.tar")
    stream = io.BufferedReader(NonSeekable((tmp_path / "s.tar").read_bytes()))
    assert not stream.seekable()
    assert [s.text for s in read_shard(stream)] == [s.text for s in samples]


def test_file_and_pipe_urls(tmp_path: Path, samples: list[LineSample]) -> None:
    path = tmp_path / "s.tar"
    write_shard(samples, path)
    for url in (path.as_uri(), f"pipe:cat {path}"):
        assert [s.text for s in load_shard(url)] == [s.text for s in samples]
    with pytest.raises(DataError, match=r"pipe:cat .*not a readable tar shard"):
        load_shard(f"pipe:cat {tmp_path / 'missing.tar'}")


def test_duplicate_member_and_hidden_files(tmp_path: Path) -> None:
    png = encode(line_image("ab"), "PNG")
    path = make_tar(
        tmp_path / "s.tar", [("._k.png", b"\0"), ("k.png", png), ("k.txt", b"a"), ("._k.txt", b"")]
    )
    assert [s.meta["key"] for s in load_shard(path)] == ["k"]  # macOS ._* members are skipped
    path = make_tar(tmp_path / "d.tar", [("k.png", png), ("k.txt", b"a"), ("k.txt", b"b")])
    with pytest.raises(DataError, match=r"d\.tar: member 'k\.txt' appears twice"):
        load_shard(path)


def test_transparent_png_becomes_white_paper(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((5, 2, 8, 6), fill=(0, 0, 0, 255))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    path = make_tar(tmp_path / "s.tar", [("k.png", buf.getvalue()), ("k.txt", b"x")])
    (sample,) = load_shard(path)
    assert sample.image[0, 0] == 255 and sample.image[4, 6] == 0


def test_missing_transcription(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    png = encode(line_image("ab"), "PNG")
    path = make_tar(
        tmp_path / "s.tar",
        [("k1.png", png), ("k1.txt", b"ok"), ("k2.png", png), ("k3.png", png), ("k3.txt", b"c")],
    )
    with pytest.raises(DataError, match=r"s\.tar: sample 'k2' has no transcription.*k2\.txt"):
        load_shard(path)
    with caplog.at_level(logging.WARNING):
        assert [s.text for s in load_shard(path, strict=False)] == ["ok", "c"]
    assert "skipped 1 of 3" in caplog.text and "k2" in caplog.text


def test_missing_image_and_empty_text(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "s.tar", [("k1.txt", b"text"), ("k1.json", b"{}")])
    with pytest.raises(DataError, match=r"sample 'k1' has no image"):
        load_shard(path)
    path = make_tar(
        tmp_path / "e.tar", [("k1.png", encode(line_image("a"), "PNG")), ("k1.txt", b" \n")]
    )
    with pytest.raises(DataError, match=r"'k1' has an empty transcription"):
        load_shard(path)


def test_corrupt_image(tmp_path: Path) -> None:
    path = make_tar(
        tmp_path / "s.tar",
        [
            ("bad.jpg", b"\xff\xd8 not a jpeg"),
            ("bad.txt", b"x"),
            ("ok.png", encode(line_image("a"), "PNG")),
            ("ok.txt", b"y"),
        ],
    )
    with pytest.raises(DataError, match=r"s\.tar: sample 'bad' \(bad\.jpg\): cannot decode image"):
        load_shard(path)
    assert [s.text for s in load_shard(path, strict=False)] == ["y"]


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"this is not a tar archive at all" * 40)
    with pytest.raises(DataError, match=r"junk\.tar: not a readable tar shard"):
        load_shard(path)


@pytest.mark.skipif(
    not (REAL_LINES / "hooker-val-000.tar").is_file(), reason="real line shards not present"
)
def test_real_shard() -> None:
    start = time.perf_counter()
    got = load_shard(REAL_LINES / "hooker-val-000.tar")
    elapsed = time.perf_counter() - start
    assert len(got) > 100
    assert all(s.text and s.doc and s.image.shape[0] == 64 for s in got)
    assert all(s.image.dtype == np.uint8 and s.meta["license"] for s in got)
    assert len({s.doc for s in got}) > 1
    assert elapsed < 10, f"reading {len(got)} lines took {elapsed:.1f} s"
