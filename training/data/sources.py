"""Data sources: where lines come from (synthetic, path or URL), how they split and mix."""

from __future__ import annotations

import glob
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from htr.errors import ConfigError, DataError
from training.data.lines import LineSample

log = logging.getLogger(__name__)

FORMATS = ("auto", "synthetic", "webdataset", "kraken", "pages", "pkl")
SPLITS = ("train", "val", "test", "auto")


@dataclass
class SourceConfig:
    """One source of text lines."""

    uri: str = "synthetic"  # "synthetic", a path or glob, or a file:// / https:// URL
    format: str = "auto"  # auto | synthetic | webdataset | kraken | pages | pkl
    sha256: str | None = None  # required for URLs you do not control; checked after download
    weight: float = 1.0  # relative share of training lines drawn from this source
    split: str = "auto"  # train | val | test | auto (by document hash: no document on two sides)
    name: str = ""  # label in metrics (val/cer/NAME); defaults to the file or folder name

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"source {self.uri!r}: format={self.format!r}; choose from {FORMATS}")
        if self.split not in SPLITS:
            raise ConfigError(f"source {self.uri!r}: split={self.split!r}; choose from {SPLITS}")
        if not self.weight >= 0:
            raise ConfigError(f"source {self.uri!r}: weight={self.weight}; use a number >= 0")
        if self.uri == "synthetic":
            self.format = "synthetic"
        if not self.name:
            stem = self.uri.rstrip("/").rsplit("/", 1)[-1]
            self.name = stem.split(".")[0].replace("*", "").rstrip("-_") or "data"

    @property
    def is_url(self) -> bool:
        return self.uri.startswith(("http://", "https://", "file://"))


def detect_format(path: Path) -> str:
    """Guess a dataset's format from a path: a shard, a pickle, or a folder of lines or pages."""
    name = path.name.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return "webdataset"
    if name.endswith(".pkl.gz"):
        return "pkl"
    if path.is_dir():
        if next(path.rglob("*.gt.txt"), None) is not None:
            return "kraken"
        if next(path.rglob("*.xml"), None) is not None:
            return "pages"
    raise DataError(
        f"cannot tell the format of {path}: expected a .tar shard, a .pkl.gz file, a folder of "
        f"NAME.png + NAME.gt.txt, or a folder of ALTO/PAGE XML; or set format= explicitly"
    )


def resolve(cfg: SourceConfig, cache_dir: Path) -> list[Path]:
    """Local files for a source: downloads URLs (checked), expands globs, checks existence."""
    if cfg.is_url:
        from training.data.download import fetch

        return [fetch(cfg.uri, cfg.sha256, cache_dir)]
    paths = (
        sorted(Path(p) for p in glob.glob(cfg.uri))
        if any(c in cfg.uri for c in "*?[")
        else [Path(cfg.uri)]
    )
    if not paths or not all(p.exists() for p in paths):
        raise DataError(f"source {cfg.uri!r} matches no file or folder; check the path")
    if cfg.sha256:
        if len(paths) != 1 or not paths[0].is_file():
            raise ConfigError(
                f"source {cfg.uri!r}: one sha256 can check one file, not "
                f"{len(paths)} paths or a folder; give each file its own source"
            )
        from training.data.download import fetch

        paths = [fetch(str(p), cfg.sha256, cache_dir) for p in paths]
    return paths


def read_path(path: Path, fmt: str) -> list[LineSample]:
    """All lines of one local dataset file or folder."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "webdataset":
        from training.data.webdataset import load_shard

        return load_shard(path)
    if fmt == "kraken":
        from training.data.kraken import read_kraken_dir

        return read_kraken_dir(path)
    if fmt == "pages":
        from training.data.pages import read_page_dir, read_page_xml

        return read_page_dir(path) if path.is_dir() else read_page_xml(path)
    if fmt == "pkl":
        from training.data.pickles import read_pkl_gz_lines

        return read_pkl_gz_lines(path)
    raise ConfigError(f"format {fmt!r} has no reader; choose from {FORMATS[2:]}")


def load_source(cfg: SourceConfig, cache_dir: Path) -> list[LineSample]:
    """Every line of a (non-synthetic) source, in a stable order."""
    samples: list[LineSample] = []
    for path in resolve(cfg, cache_dir):
        samples.extend(read_path(path, cfg.format))
    log.info("source %s: %d lines from %s", cfg.name, len(samples), cfg.uri)
    return samples


def doc_split(doc: str, val_fraction: float, test_fraction: float) -> str:
    """Split of a document by a stable hash: all lines of one document land on one side."""
    bucket = int(hashlib.sha1(doc.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < val_fraction:
        return "val"
    if bucket < val_fraction + test_fraction:
        return "test"
    return "train"
