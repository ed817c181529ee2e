"""Page datasets: page images with ALTO (v2-v4) or PAGE-XML (2013-2019) line transcriptions.

Each text line is cropped to its polygon's bounding box and the pixels outside the polygon are
set to the paper colour, so neighbouring lines' ink does not leak into the sample. XML is read
with ElementTree: expat never fetches external entities or DTDs, so a page file cannot make us
read other files or the network.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from htr.errors import DataError
from training.data.lines import LineSample
from training.data.webdataset import decode_grey

log = logging.getLogger(__name__)

ALTO_NS = tuple(f"http://www.loc.gov/standards/alto/ns-v{v}#" for v in (2, 3, 4))
PAGE_NS = tuple(
    f"http://schema.primaresearch.org/PAGE/gts/pagecontent/{date}"
    for date in ("2013-07-15", "2016-07-15", "2017-07-15", "2018-07-15", "2019-07-15")
)

Points = list[tuple[float, float]]


@dataclass
class _Line:
    """One text line as described by the XML, before cropping."""

    line_id: str
    points: Points
    text: str


def _load_xml(xml_path: Path) -> tuple[ET.Element, str | None, str]:
    """(root, kind 'alto' | 'page' | None, namespace) of an XML file."""
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DataError(f"{xml_path}: not readable XML ({exc}); fix or re-export it") from exc
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local == "alto" and (ns in ALTO_NS or not ns):
        return root, "alto", ns
    if local == "PcGts" and ns in PAGE_NS:
        return root, "page", ns
    return root, None, ns


def _q(ns: str, *tags: str) -> str:
    """ElementTree path of tags in a namespace."""
    return "/".join(f"{{{ns}}}{t}" if ns else t for t in tags)


def _parse_points(raw: str, where: str) -> Points:
    """Points from 'x1,y1 x2,y2 ...' (PAGE) or 'x1 y1 x2 y2 ...' (ALTO)."""
    try:
        nums = [float(v) for v in raw.replace(",", " ").split()]
    except ValueError as exc:
        raise DataError(f"{where}: bad polygon {raw[:80]!r} ({exc}); use 'x,y x,y ...'") from exc
    if len(nums) % 2:
        raise DataError(f"{where}: polygon {raw[:80]!r} has an odd number of coordinates")
    return list(zip(nums[::2], nums[1::2], strict=True))


def _index(equiv: ET.Element) -> int:
    """A TextEquiv's @index; missing or non-numeric ones sort after numbered ones."""
    raw = equiv.get("index", "")
    return int(raw) if raw.lstrip("-").isdigit() else 1 << 30


def _page_text(line: ET.Element, ns: str) -> str:
    """Line-level TextEquiv (lowest @index first), else the words' TextEquivs joined."""
    equivs = line.findall(_q(ns, "TextEquiv"))
    if equivs:
        # PAGE: "the text content with the lowest index should be interpreted as the main text"
        best = min(enumerate(equivs), key=lambda e: (_index(e[1]), e[0]))[1]
        return (best.findtext(_q(ns, "Unicode")) or "").strip()
    words = (w.findtext(_q(ns, "TextEquiv", "Unicode")) or "" for w in line.iter(_q(ns, "Word")))
    return " ".join(" ".join(words).split())


def _page_lines(root: ET.Element, ns: str, xml_path: Path) -> tuple[str, list[_Line]]:
    """(image file name, lines) of a PAGE-XML document."""
    page = root.find(_q(ns, "Page"))
    if page is None or not page.get("imageFilename"):
        raise DataError(f"{xml_path}: no Page/@imageFilename; re-export the PAGE-XML with it")
    lines = []
    for i, el in enumerate(root.iter(_q(ns, "TextLine")), 1):
        line_id = el.get("id") or f"line {i}"
        raw = el.find(_q(ns, "Coords"))
        raw_points = "" if raw is None else raw.get("points", "")
        points = _parse_points(raw_points, f"{xml_path}: line {line_id!r}")
        lines.append(_Line(line_id, points, _page_text(el, ns)))
    return page.get("imageFilename", ""), lines


def _alto_text(line: ET.Element, ns: str) -> str:
    """TextLine/@CONTENT if present, else its Strings joined by single spaces (+ hyphen)."""
    if line.get("CONTENT"):
        return " ".join(line.get("CONTENT", "").split())
    words = [s.get("CONTENT", "") for s in line.findall(_q(ns, "String"))]
    text = " ".join(" ".join(words).split())
    hyphen = line.find(_q(ns, "HYP"))
    return text + (hyphen.get("CONTENT", "") if hyphen is not None else "")


def _alto_points(line: ET.Element, ns: str, where: str) -> Points:
    """Shape/Polygon/@POINTS, else the HPOS/VPOS/WIDTH/HEIGHT rectangle; [] if neither."""
    polygon = line.find(_q(ns, "Shape", "Polygon"))
    if polygon is not None and polygon.get("POINTS"):
        return _parse_points(polygon.get("POINTS", ""), where)
    try:
        x, y, w, h = (float(line.get(a, "nan")) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    except ValueError as exc:
        raise DataError(f"{where}: bad HPOS/VPOS/WIDTH/HEIGHT ({exc}); use numbers") from exc
    if any(math.isnan(v) for v in (x, y, w, h)):
        return []
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _alto_lines(root: ET.Element, ns: str, xml_path: Path) -> tuple[str, list[_Line]]:
    """(image file name, lines) of an ALTO document."""
    unit = (root.findtext(_q(ns, "Description", "MeasurementUnit")) or "pixel").strip()
    if unit != "pixel":
        raise DataError(
            f"{xml_path}: MeasurementUnit is {unit!r}; only 'pixel' is supported, re-export "
            "the ALTO with pixel coordinates"
        )
    name = root.findtext(_q(ns, "Description", "sourceImageInformation", "fileName")) or ""
    if not name.strip():
        raise DataError(
            f"{xml_path}: no Description/sourceImageInformation/fileName; re-export the ALTO "
            "with the page image's file name"
        )
    lines = []
    for i, el in enumerate(root.iter(_q(ns, "TextLine")), 1):
        line_id = el.get("ID") or f"line {i}"
        points = _alto_points(el, ns, f"{xml_path}: line {line_id!r}")
        lines.append(_Line(line_id, points, _alto_text(el, ns)))
    return name.strip(), lines


def _find_image(xml_path: Path, name: str) -> Path:
    """The page image named in the XML: as given, or by base name beside the XML or above it."""
    name = name.removeprefix("file://")
    base = name.replace("\\", "/").rpartition("/")[2]
    folder = xml_path.parent
    candidates = [folder / name, folder / base, folder.parent / base]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise DataError(
        f"{xml_path}: page image {name!r} not found (tried {tried}); put the image beside the XML"
    )


def _degenerate(points: Points, width: int, height: int) -> str | None:
    """Why a polygon cannot be cropped from a width x height image, or None if it can."""
    if len(set(points)) < 3:
        return f"{len(set(points))} distinct point(s), need at least 3"
    xs, ys = zip(*points, strict=True)
    area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs))))
    if area == 0:
        return "zero area"
    if max(xs) < 0 or max(ys) < 0 or min(xs) >= width or min(ys) >= height:
        return f"outside the {width}x{height} page image"
    return None


def _crop(page: np.ndarray, points: Points) -> np.ndarray:
    """The polygon's bounding box from the page, paper colour outside the polygon."""
    xs, ys = zip(*points, strict=True)
    x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    x1 = min(page.shape[1], math.ceil(max(xs)) + 1)
    y1 = min(page.shape[0], math.ceil(max(ys)) + 1)
    crop = page[y0:y1, x0:x1]
    mask_img = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(mask_img).polygon([(x - x0, y - y0) for x, y in points], fill=1, outline=1)
    mask = np.asarray(mask_img, dtype=bool)
    # inside the polygon ink is the minority, so its median is the paper; outside may hold
    # neighbouring lines' ink
    paper = np.uint8(np.median(crop[mask])) if mask.any() else np.uint8(255)
    return np.where(mask, crop, paper).astype(np.uint8)


def _read_xml(
    xml_path: Path, root: ET.Element, kind: str, ns: str, strict: bool
) -> list[LineSample]:
    """Line samples of one parsed ALTO or PAGE document."""
    parse = _alto_lines if kind == "alto" else _page_lines
    image_name, all_lines = parse(root, ns, xml_path)
    lines = [(i, line) for i, line in enumerate(all_lines, 1) if line.text]
    if not lines:
        log.info("%s: no transcribed lines", xml_path)
        return []
    image_path = _find_image(xml_path, image_name)
    page = decode_grey(image_path, str(image_path))
    source = "alto" if kind == "alto" else "page-xml"
    samples = []
    for index, line in lines:
        reason = _degenerate(line.points, page.shape[1], page.shape[0])
        if reason:
            message = (
                f"{xml_path}: line {line.line_id!r} has a degenerate polygon ({reason}); fix its "
                "coordinates in the XML, or pass strict=False to skip it"
            )
            if strict:
                raise DataError(message)
            log.warning("skipping line: %s", message)
            continue
        meta: dict = {"source": source, "page": image_name, "xml": xml_path.name}
        meta |= {"line_id": line.line_id, "line": index}
        sample = LineSample(_crop(page, line.points), line.text, image_path.stem, meta)
        samples.append(sample)
    return samples


def read_page_xml(xml_path: Path | str, *, strict: bool = True) -> list[LineSample]:
    """Line samples of one ALTO or PAGE-XML file (format from the root namespace), in XML order.

    Lines with empty text are skipped. Lines with a degenerate polygon (fewer than 3 points,
    zero area, outside the image) raise DataError, or are skipped with a warning if strict=False.
    """
    xml_path = Path(xml_path)
    root, kind, ns = _load_xml(xml_path)
    if kind is None:
        raise DataError(
            f"{xml_path}: root {root.tag!r} is neither ALTO ({', '.join(ALTO_NS)}) nor PAGE-XML "
            f"({', '.join(PAGE_NS)}); export the transcription as ALTO v4 or PAGE-XML 2019"
        )
    return _read_xml(xml_path, root, kind, ns, strict)


def read_page_dir(path: Path | str, *, strict: bool = True) -> list[LineSample]:
    """Line samples of every ALTO / PAGE-XML file in a folder (not recursive), sorted by name.

    Other XML files (METS, metadata) are skipped, since exports often ship them alongside.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; pass the folder holding the page XML files")
    samples, pages = [], 0
    for xml_path in sorted(folder.glob("*.xml")):
        root, kind, ns = _load_xml(xml_path)
        if kind is None:
            log.info("%s: skipping, root %r is neither ALTO nor PAGE-XML", xml_path, root.tag)
            continue
        pages += 1
        samples.extend(_read_xml(xml_path, root, kind, ns, strict))
    if not pages:
        raise DataError(
            f"{folder}: no ALTO or PAGE-XML files (*.xml); point at the folder of page XML files"
        )
    return samples
