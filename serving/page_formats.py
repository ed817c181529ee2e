"""A read page (the dict of docs/pages.md) as plain text, JSON, PAGE-XML 2019 and ALTO v4.

The XML writers place every element in its schema's sequence (pagecontent.xsd 2019-07-15;
alto-4-4.xsd) and let ElementTree escape the text. Both keep each line's polygon and baseline
in page pixels; a blank page gives a valid document without regions or blocks.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import partial
from typing import Any

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PAGE_XSD = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"
ALTO_XSD = f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
ALTO_VERSION = "4.4"  # BASELINE as a list of points needs 4.2 or later
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # what xsd:ID accepts (ASCII subset)

Point = tuple[int, int]


def to_text(page: dict[str, Any]) -> str:
    """The page's text, its lines in reading order, newline-terminated (empty if blank)."""
    text = page.get("text")
    if text is None:
        text = "\n".join(str(line.get("text", "")) for line in page.get("lines", []))
    return f"{text}\n" if text else ""


def to_json(page: dict[str, Any]) -> str:
    """The page dict itself, indented, non-ASCII kept as is."""
    return json.dumps(page, indent=2, ensure_ascii=False) + "\n"


def _clamp(points: Sequence[Sequence[float]], width: int, height: int) -> list[Point]:
    """Integer points inside the image: both schemas measure from its top-left pixel."""
    w, h = max(width - 1, 0), max(height - 1, 0)
    return [(min(max(round(x), 0), w), min(max(round(y), 0), h)) for x, y in points]


def _box(points: Sequence[Point]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the points, at least one pixel each way."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(max(xs), min(xs) + 1), max(max(ys), min(ys) + 1)


def _rectangle(x0: int, y0: int, x1: int, y1: int) -> list[Point]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _outline(line: dict[str, Any], width: int, height: int) -> list[Point]:
    """The line's polygon; its box (or its baseline's) when fewer than 3 distinct points."""
    polygon = _clamp(line.get("polygon") or [], width, height)
    if len(set(polygon)) >= 3:
        return polygon
    known = polygon + _clamp(line.get("baseline") or [], width, height)
    return _rectangle(*_box(known or [(0, 0)]))


def _points(points: Sequence[Point]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _line_ids(lines: Sequence[dict[str, Any]]) -> list[str]:
    """Each line's id when it is a valid, unique XML ID, else line_N."""
    ids: list[str] = []
    for i, line in enumerate(lines, 1):
        given = str(line.get("id", ""))
        ids.append(given if _NCNAME.match(given) and given not in ids else f"line_{i}")
    return ids


def _conf(value: object) -> str:
    """A confidence within the schemas' 0..1."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = 0.0
    return f"{min(max(number, 0.0), 1.0):.4g}"


def _timestamp(when: datetime | None) -> str:
    """UTC, to the second, as xsd:dateTime (PAGE asks for UTC)."""
    moment = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _creator(page: dict[str, Any]) -> str:
    model, revision = page.get("model") or "htr", page.get("revision") or ""
    return f"{model} {revision}".strip()


def _sub(ns: str, parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)


def _serialise(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_page_xml(page: dict[str, Any], image_name: str, when: datetime | None = None) -> str:
    """PAGE-XML 2019: one TextRegion enclosing the lines, each with Coords, Baseline, TextEquiv."""
    ET.register_namespace("", PAGE_NS)
    ET.register_namespace("xsi", XSI_NS)
    sub = partial(_sub, PAGE_NS)
    width, height = int(page["width"]), int(page["height"])
    root = ET.Element(f"{{{PAGE_NS}}}PcGts", {f"{{{XSI_NS}}}schemaLocation": PAGE_XSD})
    meta = sub(root, "Metadata")
    stamp = _timestamp(when)
    for tag, text in (("Creator", _creator(page)), ("Created", stamp), ("LastChange", stamp)):
        sub(meta, tag).text = text
    attrs = {"imageFilename": image_name, "imageWidth": str(width), "imageHeight": str(height)}
    body = sub(root, "Page", **attrs)
    lines = page.get("lines") or []
    if not lines:  # no region: an empty OrderedGroup or TextRegion would not validate
        return _serialise(root)
    outlines = [_outline(line, width, height) for line in lines]
    group = sub(sub(body, "ReadingOrder"), "OrderedGroup", id="reading_order")
    sub(group, "RegionRefIndexed", index="0", regionRef="region_1")
    region = sub(body, "TextRegion", id="region_1")
    sub(region, "Coords", points=_points(_rectangle(*_box([p for o in outlines for p in o]))))
    for line, line_id, outline in zip(lines, _line_ids(lines), outlines, strict=True):
        element = sub(region, "TextLine", id=line_id)
        sub(element, "Coords", points=_points(outline))
        baseline = _clamp(line.get("baseline") or [], width, height)
        if len(baseline) >= 2:  # PointsType needs two points at least
            sub(element, "Baseline", points=_points(baseline))
        equiv = sub(element, "TextEquiv", conf=_conf(line.get("confidence")))
        sub(equiv, "Unicode").text = str(line.get("text", ""))
    return _serialise(root)


def _words(line: dict[str, Any]) -> list[tuple[str, float]]:
    """The line's words with their confidences; the text's words at the line's if none given."""
    words = [(str(w), c) for w, c in line.get("words") or [] if str(w).strip()]
    if words:
        return words
    return [(w, line.get("confidence", 0.0)) for w in str(line.get("text", "")).split()]


def _geometry(outline: Sequence[Point]) -> dict[str, str]:
    x0, y0, x1, y1 = _box(outline)
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def _alto_line(
    block: ET.Element, line: dict[str, Any], line_id: str, outline: list[Point], size: Point
) -> None:
    """One TextLine: Shape/Polygon, then String (SP String)* with the line box as geometry."""
    sub = partial(_sub, ALTO_NS)
    box = _geometry(outline)
    attrs = {"ID": line_id, **box}
    baseline = _clamp(line.get("baseline") or [], *size)
    if len(baseline) >= 2:
        attrs["BASELINE"] = _points(baseline)
    element = sub(block, "TextLine", **attrs)
    sub(sub(element, "Shape"), "Polygon", POINTS=_points(outline))
    words = _words(line) or [("", line.get("confidence", 0.0))]  # the schema needs a String
    for k, (word, conf) in enumerate(words, 1):
        if k > 1:
            sub(element, "SP")
        sub(element, "String", ID=f"{line_id}_w{k}", **box, CONTENT=word, WC=_conf(conf))


def to_alto(page: dict[str, Any], image_name: str, when: datetime | None = None) -> str:
    """ALTO v4 in pixels: one TextBlock of TextLines (BASELINE points, polygon, Strings)."""
    ET.register_namespace("", ALTO_NS)
    ET.register_namespace("xsi", XSI_NS)
    sub = partial(_sub, ALTO_NS)
    width, height = int(page["width"]), int(page["height"])
    root_attrs = {f"{{{XSI_NS}}}schemaLocation": ALTO_XSD, "SCHEMAVERSION": ALTO_VERSION}
    root = ET.Element(f"{{{ALTO_NS}}}alto", root_attrs)
    description = sub(root, "Description")
    sub(description, "MeasurementUnit").text = "pixel"
    sub(sub(description, "sourceImageInformation"), "fileName").text = image_name
    step = sub(description, "Processing", ID="processing_1")
    sub(step, "processingCategory").text = "contentGeneration"
    sub(step, "processingDateTime").text = _timestamp(when)
    software = sub(step, "processingSoftware")
    sub(software, "softwareName").text = str(page.get("model") or "htr")
    sub(software, "softwareVersion").text = str(page.get("revision") or "unknown")
    size = {"WIDTH": str(width), "HEIGHT": str(height)}
    layout_page = sub(sub(root, "Layout"), "Page", ID="page_1", PHYSICAL_IMG_NR="1", **size)
    space = sub(layout_page, "PrintSpace", HPOS="0", VPOS="0", **size)
    lines = page.get("lines") or []
    if not lines:
        return _serialise(root)
    outlines = [_outline(line, width, height) for line in lines]
    block = sub(space, "TextBlock", ID="block_1", **_geometry([p for o in outlines for p in o]))
    for line, line_id, outline in zip(lines, _line_ids(lines), outlines, strict=True):
        _alto_line(block, line, line_id, outline, (width, height))
    return _serialise(root)


Writer = Callable[[dict[str, Any], str], str]
# Format name -> (the output file's suffix after the image's stem, its writer).
FORMATS: dict[str, tuple[str, Writer]] = {
    "txt": (".txt", lambda page, image_name: to_text(page)),
    "json": (".json", lambda page, image_name: to_json(page)),
    "page": (".xml", to_page_xml),
    "alto": (".alto.xml", to_alto),
}
