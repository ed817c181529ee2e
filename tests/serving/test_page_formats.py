"""The page dict as text, JSON, PAGE-XML and ALTO, read back by the project's own readers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from serving.page_formats import ALTO_NS, FORMATS, PAGE_NS, to_alto, to_json, to_page_xml, to_text
from training.data.page_samples import parse_page_lines
from training.data.pages import read_page_xml

WIDTH, HEIGHT = 320, 200
TRICKY = 'Le dzé <&"> réfléchi'
PAGE = {
    "width": WIDTH,
    "height": HEIGHT,
    "lines": [
        {
            "id": "line_1",
            # a slanted six-point outline, not a rectangle: its crop shows the polygon survived
            "polygon": [[12, 20], [150, 14], [300, 18], [302, 60], [150, 58], [10, 64]],
            "baseline": [[14, 52], [150, 50], [298, 53]],
            "text": TRICKY,
            "confidence": 0.93,
            "unsure": False,
            "words": [["Le", 0.97], ["dzé", 0.61], ['<&">', 0.4], ["réfléchi", 0.9]],
        },
        {
            "id": "line_2",
            "polygon": [[8, 90], [310, 92], [312, 140], [6, 138]],
            "baseline": [[10, 130], [308, 131]],
            "text": "ça va",
            "confidence": 0.42,
            "unsure": True,
            "words": [["ça", 0.5], ["va", 0.3]],
        },
    ],
    "text": f"{TRICKY}\nça va",
    "calibrated": True,
    "model": "htr-line-recognizer",
    "revision": "abc1234",
    "timing_ms": {"find": 1.0, "read": 2.0},
}
BLANK = {**PAGE, "lines": [], "text": ""}
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)

# Each element's children in the order of its schema's <sequence> (pagecontent.xsd 2019-07-15).
PAGE_ORDER = {
    "PcGts": ["Metadata", "Page"],
    "Metadata": ["Creator", "Created", "LastChange", "Comments", "UserDefined", "MetadataItem"],
    "Page": [
        "AlternativeImage",
        "Border",
        "PrintSpace",
        "ReadingOrder",
        "Layers",
        "Relations",
        "TextStyle",
        "UserDefined",
        "Labels",
        "TextRegion",
    ],
    "ReadingOrder": ["OrderedGroup"],
    "OrderedGroup": ["UserDefined", "Labels", "RegionRefIndexed"],
    # RegionType's sequence, then TextRegionType's extension of it
    "TextRegion": [
        "AlternativeImage",
        "Coords",
        "UserDefined",
        "Labels",
        "Roles",
        "TextLine",
        "TextEquiv",
        "TextStyle",
    ],
    "TextLine": [
        "AlternativeImage",
        "Coords",
        "Baseline",
        "Word",
        "TextEquiv",
        "TextStyle",
        "UserDefined",
        "Labels",
    ],
    "TextEquiv": ["PlainText", "Unicode"],
}
PAGE_REQUIRED = {
    "Metadata": {"Creator", "Created", "LastChange"},
    "TextLine": {"Coords"},
    "TextRegion": {"Coords"},
    "TextEquiv": {"Unicode"},
}
# The same for ALTO (alto-4-4.xsd); TextLine's (String, SP?)+ is checked as a pattern.
ALTO_ORDER = {
    "alto": ["Description", "Styles", "Tags", "ReadingOrder", "Layout"],
    "Description": ["MeasurementUnit", "sourceImageInformation", "OCRProcessing", "Processing"],
    "sourceImageInformation": ["fileName", "fileIdentifier", "documentIdentifier"],
    "Processing": [
        "processingCategory",
        "processingDateTime",
        "processingAgency",
        "processingStepDescription",
        "processingStepSettings",
        "processingSoftware",
    ],
    "processingSoftware": [
        "softwareCreator",
        "softwareName",
        "softwareVersion",
        "applicationDescription",
    ],
    "Layout": ["Page"],
    "Page": ["TopMargin", "LeftMargin", "RightMargin", "BottomMargin", "PrintSpace"],
    "PrintSpace": ["Shape", "TextBlock"],
    "TextBlock": ["Shape", "TextLine"],
    "Shape": ["Polygon"],
}
ALTO_LINE = re.compile(r"^(Shape )?(String (SP )?)+(HYP )?$")
PAGE_POINTS = re.compile(r"^([0-9]+,[0-9]+ )+([0-9]+,[0-9]+)$")  # PointsType's pattern


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _check_order(root: ET.Element, order: dict[str, list[str]], ns: str) -> int:
    """Every element's children in schema order and namespace; the number of elements checked."""
    checked = 0
    for element in root.iter():
        assert element.tag.startswith(f"{{{ns}}}"), element.tag
        children = [_local(c.tag) for c in element]
        name = _local(element.tag)
        if name == "TextLine" and ns == ALTO_NS:
            assert ALTO_LINE.match("".join(f"{c} " for c in children)), children
        elif children:
            expected = order[name]
            positions = [expected.index(c) for c in children]
            assert positions == sorted(positions), f"{name}: {children}"
        checked += 1
    return checked


def _write(tmp_path, page=PAGE):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH), np.uint8)).save(
        tmp_path / "scan.png"
    )
    (tmp_path / "scan.xml").write_text(to_page_xml(page, "scan.png", WHEN), encoding="utf-8")
    (tmp_path / "scan.alto.xml").write_text(to_alto(page, "scan.png", WHEN), encoding="utf-8")
    return np.asarray(Image.open(tmp_path / "scan.png"))


def test_page_xml_and_alto_read_back_with_the_projects_readers(tmp_path):
    image = _write(tmp_path)
    from_page = read_page_xml(tmp_path / "scan.xml")
    from_alto = read_page_xml(tmp_path / "scan.alto.xml")
    assert [s.text for s in from_page] == [s.text for s in from_alto] == [TRICKY, "ça va"]
    for line, a, b in zip(PAGE["lines"], from_page, from_alto, strict=True):
        xs, ys = zip(*line["polygon"], strict=True)
        assert a.image.shape == b.image.shape == (max(ys) - min(ys) + 1, max(xs) - min(xs) + 1)
        assert np.array_equal(a.image, b.image)
        cx, cy = int(np.mean(xs)), int(np.mean(ys))  # inside the polygon: the page's own pixel
        assert a.image[cy - min(ys), cx - min(xs)] == image[cy, cx]
    read = parse_page_lines((tmp_path / "scan.xml").read_bytes(), "scan.xml")
    assert [(r.line_id, r.text) for r in read] == [("line_1", TRICKY), ("line_2", "ça va")]
    for line, r in zip(PAGE["lines"], read, strict=True):
        assert r.polygon == [tuple(map(float, p)) for p in line["polygon"]]
        assert r.baseline == [tuple(map(float, p)) for p in line["baseline"]]


def test_elements_follow_each_schemas_sequence(tmp_path):
    _write(tmp_path)
    page = ET.parse(tmp_path / "scan.xml").getroot()
    assert _check_order(page, PAGE_ORDER, PAGE_NS) > 15
    for element in page.iter():
        present = {_local(c.tag) for c in element}
        assert PAGE_REQUIRED.get(_local(element.tag), set()) <= present
        for attr in ("points",):
            if attr in element.attrib:
                assert PAGE_POINTS.match(element.attrib[attr]), element.attrib
    body = page.find(f"{{{PAGE_NS}}}Page")
    assert body is not None and body.attrib == {
        "imageFilename": "scan.png",
        "imageWidth": str(WIDTH),
        "imageHeight": str(HEIGHT),
    }
    ref = page.find(f".//{{{PAGE_NS}}}RegionRefIndexed")
    region = page.find(f".//{{{PAGE_NS}}}TextRegion")
    assert ref is not None and region is not None and ref.get("regionRef") == region.get("id")
    alto = ET.parse(tmp_path / "scan.alto.xml").getroot()
    assert _check_order(alto, ALTO_ORDER, ALTO_NS) > 20
    assert alto.findtext(f".//{{{ALTO_NS}}}MeasurementUnit") == "pixel"
    alto_page = alto.find(f".//{{{ALTO_NS}}}Page")
    assert alto_page is not None and alto_page.get("PHYSICAL_IMG_NR") == "1"
    assert (alto_page.get("WIDTH"), alto_page.get("HEIGHT")) == (str(WIDTH), str(HEIGHT))


def test_line_geometry_confidence_and_words(tmp_path):
    _write(tmp_path)
    page = ET.parse(tmp_path / "scan.xml").getroot()
    equiv = page.find(f".//{{{PAGE_NS}}}TextEquiv")
    assert equiv is not None and equiv.get("conf") == "0.93"
    assert page.findtext(f".//{{{PAGE_NS}}}Created") == "2024-05-06T07:08:09Z"
    alto = ET.parse(tmp_path / "scan.alto.xml").getroot()
    first = alto.find(f".//{{{ALTO_NS}}}TextLine")
    assert first is not None and first.get("BASELINE") == "14,52 150,50 298,53"
    box = {k: first.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")}
    assert box == {"HPOS": "10", "VPOS": "14", "WIDTH": "292", "HEIGHT": "50"}
    strings = first.findall(f"{{{ALTO_NS}}}String")
    assert [(s.get("CONTENT"), s.get("WC")) for s in strings] == [
        ("Le", "0.97"),
        ("dzé", "0.61"),
        ('<&">', "0.4"),
        ("réfléchi", "0.9"),
    ]
    assert all({k: s.get(k) for k in box} == box for s in strings)
    assert len(first.findall(f"{{{ALTO_NS}}}SP")) == 3


def test_markup_characters_and_accents_survive_every_format(tmp_path):
    _write(tmp_path)
    raw = (tmp_path / "scan.xml").read_text(encoding="utf-8")
    assert "&lt;&amp;" in raw and "dzé" in raw  # escaped markup, accents as they are
    page = ET.parse(tmp_path / "scan.xml").getroot()
    assert page.findtext(f".//{{{PAGE_NS}}}Unicode") == TRICKY
    assert json.loads(to_json(PAGE))["lines"][0]["text"] == TRICKY
    assert "dzé" in to_json(PAGE)  # readable, not \u-escaped
    assert to_text(PAGE) == f"{TRICKY}\nça va\n"


def test_a_blank_page_writes_valid_documents(tmp_path):
    _write(tmp_path, BLANK)
    page = ET.parse(tmp_path / "scan.xml").getroot()
    alto = ET.parse(tmp_path / "scan.alto.xml").getroot()
    _check_order(page, PAGE_ORDER, PAGE_NS)
    _check_order(alto, ALTO_ORDER, ALTO_NS)
    body = page.find(f"{{{PAGE_NS}}}Page")
    assert body is not None and len(body) == 0  # no empty region or reading order
    assert alto.find(f".//{{{ALTO_NS}}}PrintSpace") is not None
    assert alto.find(f".//{{{ALTO_NS}}}TextBlock") is None
    assert read_page_xml(tmp_path / "scan.xml") == read_page_xml(tmp_path / "scan.alto.xml") == []
    assert to_text(BLANK) == "" and json.loads(to_json(BLANK))["lines"] == []


def test_odd_geometry_is_made_valid():
    line = {
        "id": "not an id",
        "polygon": [[-5, 3], [400, 3]],
        "baseline": [[1, 9]],
        "text": "x",
        "confidence": 1.7,
        "words": [],
    }
    odd = {**PAGE, "lines": [line, {**line, "id": "line_1"}]}
    page = ET.fromstring(to_page_xml(odd, "scan.png"))
    lines = page.findall(f".//{{{PAGE_NS}}}TextLine")
    assert [el.get("id") for el in lines] == ["line_1", "line_2"]  # unique, valid XML IDs
    coords = lines[0].find(f"{{{PAGE_NS}}}Coords")
    assert coords is not None and coords.get("points") == "0,3 319,3 319,9 0,9"
    assert lines[0].find(f"{{{PAGE_NS}}}Baseline") is None  # one point is no baseline
    equiv = lines[0].find(f"{{{PAGE_NS}}}TextEquiv")
    assert equiv is not None and equiv.get("conf") == "1"
    alto = ET.fromstring(to_alto(odd, "scan.png"))
    string = alto.find(f".//{{{ALTO_NS}}}String")
    assert string is not None and (string.get("CONTENT"), string.get("WC")) == ("x", "1")


@pytest.mark.parametrize(
    "name, suffix", [("txt", ".txt"), ("json", ".json"), ("page", ".xml"), ("alto", ".alto.xml")]
)
def test_formats_name_their_suffix_and_write_strings(name, suffix):
    assert FORMATS[name][0] == suffix
    assert isinstance(FORMATS[name][1](PAGE, "scan.png"), str)
