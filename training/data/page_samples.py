"""Whole pages with their line geometry: the one in-memory form, and the page shards' reader.

A page shard (../shared/data/pages/README.md) holds KEY.jpg, KEY.xml (PAGE-XML with each
line's polygon, baseline and text, in reading order) and KEY.json (provenance).
"""

from __future__ import annotations

import json
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from htr.errors import DataError
from training.data.pages import PAGE_NS, _parse_points, _q
from training.data.webdataset import IMAGE_EXTS, decode_grey

Points = list[tuple[float, float]]


@dataclass
class PageLine:
    """One line of a page: polygon and baseline in page pixels, and its text (may be empty)."""

    polygon: Points
    baseline: Points
    text: str = ""
    line_id: str = ""


@dataclass
class PageSample:
    """A greyscale page (H, W) uint8, dark ink on light paper, and its lines in reading order."""

    image: np.ndarray
    lines: list[PageLine]
    key: str = ""
    meta: dict = field(default_factory=dict)  # provenance: source, group (document), licence

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise DataError(
                f"PageSample.image must be a (H, W) uint8 array, got shape {self.image.shape} "
                f"dtype {self.image.dtype}; convert to greyscale uint8 first"
            )


def parse_page_lines(xml: bytes | str, where: str) -> list[PageLine]:
    """The TextLines of a PAGE-XML document that have a baseline, in document order."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DataError(f"{where}: not readable XML ({exc}); fix or re-export it") from exc
    ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if ns not in PAGE_NS:
        raise DataError(f"{where}: root {root.tag!r} is not PAGE-XML; export PAGE-XML 2019")
    lines = []
    for i, el in enumerate(root.iter(_q(ns, "TextLine")), 1):
        line_id = el.get("id") or f"line {i}"
        base = el.find(_q(ns, "Baseline"))
        if base is None or not base.get("points"):
            continue  # a line without a baseline cannot train or score a baseline finder
        coords = el.find(_q(ns, "Coords"))
        polygon = _parse_points(coords.get("points", "") if coords is not None else "", where)
        baseline = _parse_points(base.get("points", ""), where)
        text = (el.findtext(_q(ns, "TextEquiv", "Unicode")) or "").strip()
        lines.append(PageLine(polygon, baseline, text, line_id))
    return lines


def read_page_shard(path: Path | str) -> Iterator[PageSample]:
    """Stream the pages of a page shard (KEY.jpg + KEY.xml [+ KEY.json]) in tar order."""
    parts: dict[str, dict[str, bytes]] = {}
    order: list[str] = []
    try:
        with tarfile.open(path) as tf:
            for member in tf:
                if not member.isfile():
                    continue
                key, _, ext = member.name.removeprefix("./").partition(".")
                handle = tf.extractfile(member)
                if handle is None:
                    continue
                if key not in parts:
                    parts[key] = {}
                    order.append(key)
                parts[key][ext.lower()] = handle.read()
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"{path}: not a readable tar shard ({exc}); re-download it") from exc
    for key in order:
        yield _build(str(path), key, parts[key])


def _build(shard: str, key: str, members: dict[str, bytes]) -> PageSample:
    image_ext = next((e for e in IMAGE_EXTS if e in members), None)
    if image_ext is None or "xml" not in members:
        raise DataError(f"{shard}: page {key!r} lacks an image or its .xml; rebuild the shard")
    where = f"{shard}: page {key!r}"
    image = decode_grey(members[image_ext], where)
    meta = json.loads(members["json"]) if "json" in members else {}
    return PageSample(image, parse_page_lines(members["xml"], where), key, meta)


def page_shards(folder: Path | str, split: str) -> list[Path]:
    """The page shards of one split ("train" or "val") in a folder, sorted by name."""
    return sorted(Path(folder).glob(f"*-{split}-*.tar"))
