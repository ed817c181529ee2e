"""ALTO and PAGE-XML page datasets: format detection, text, polygon crops, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from htr.errors import DataError
from training.data.pages import read_page_dir, read_page_xml

PAPER = 235  # not white, so the paper colour must come from the page, not a constant
ALTO4 = "http://www.loc.gov/standards/alto/ns-v4#"
PAGE2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
RECT1 = "10,10 300,10 300,50 10,50"
TRAPEZOID2 = "10,70 260,70 300,110 10,110"  # top-right corner cut off
RECT3 = "10,130 300,130 300,170 10,170"
BLOB = (285, 71, 298, 78)  # ink inside line 2's bounding box but outside its polygon


def draw_page(path: Path) -> Path:
    """A 400x220 page with three text lines and a blob of ink beside line 2's slanted edge."""
    img = Image.new("L", (400, 220), PAPER)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    for y, text in ((16, "first line"), (76, "second line"), (136, "third line")):
        draw.text((20, y), text, fill=0, font=font)
    draw.rectangle(BLOB, fill=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def alto_xml(image: str = "page.png", ns: str = ALTO4, unit: str = "pixel") -> str:
    """ALTO: line 1 polygon as 'x y', line 2 as 'x,y', line 3 rectangle only, line 4 empty."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="{ns}">
  <Description>
    <MeasurementUnit>{unit}</MeasurementUnit>
    <sourceImageInformation><fileName>{image}</fileName></sourceImageInformation>
  </Description>
  <Layout><Page ID="p1" WIDTH="400" HEIGHT="220" PHYSICAL_IMG_NR="1"><PrintSpace>
    <TextBlock ID="b1">
      <TextLine ID="l1" HPOS="0" VPOS="0" WIDTH="400" HEIGHT="60">
        <Shape><Polygon POINTS="{RECT1.replace(",", " ")}"/></Shape>
        <String CONTENT="first"/><SP/><String CONTENT="line"/>
      </TextLine>
      <TextLine ID="l2">
        <Shape><Polygon POINTS="{TRAPEZOID2}"/></Shape>
        <String CONTENT="second"/><SP/><String CONTENT=" line"/>
      </TextLine>
      <TextLine ID="l3" HPOS="10" VPOS="130" WIDTH="290" HEIGHT="40">
        <String CONTENT="third"/><String CONTENT="line"/>
      </TextLine>
      <TextLine ID="l4" HPOS="10" VPOS="180" WIDTH="290" HEIGHT="30"/>
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>
"""


def page_xml(lines: list[tuple[str, str, str]], image: str = "page.png", ns: str = PAGE2019) -> str:
    """PAGE-XML with the given (id, points, TextEquiv XML) lines in one region."""
    body = "".join(
        f'<TextLine id="{i}"><Coords points="{p}"/><Baseline points="0,0 1,1"/>{eq}</TextLine>'
        for i, p, eq in lines
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="{ns}">
  <Metadata><Creator>test</Creator></Metadata>
  <Page imageFilename="{image}" imageWidth="400" imageHeight="220">
    <TextRegion id="r1"><Coords points="0,0 400,0 400,220 0,220"/>{body}
      <TextEquiv><Unicode>region text, not a line</Unicode></TextEquiv>
    </TextRegion>
  </Page>
</PcGts>
"""


def eq(text: str, index: str | None = None) -> str:
    """A TextEquiv element."""
    attr = f' index="{index}"' if index is not None else ""
    return f"<TextEquiv{attr}><Unicode>{text}</Unicode></TextEquiv>"


PAGE_LINES = [
    (
        "tl1",
        RECT1,
        '<Word id="w1"><Coords points="1,1 2,2 3,1"/>' + eq("first") + "</Word>" + eq("first line"),
    ),
    ("tl2", TRAPEZOID2, eq("wrong", "1") + eq("second line", "0")),
    ("tl3", RECT3, eq("third line")),
    ("tl4", "10,180 300,180 300,210 10,210", eq("")),
]


@pytest.fixture
def page_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pages"
    draw_page(folder / "page.png")
    (folder / "page.alto.xml").write_text(alto_xml(), encoding="utf-8")
    (folder / "page.page.xml").write_text(page_xml(PAGE_LINES), encoding="utf-8")
    return folder


def check_lines(got: list, source: str) -> None:
    """The three transcribed lines of draw_page, cropped and masked."""
    assert [s.text for s in got] == ["first line", "second line", "third line"]
    assert {s.doc for s in got} == {"page"}
    assert {s.meta["source"] for s in got} == {source}
    for s in got:
        assert s.image.dtype == np.uint8 and s.image.shape == (41, 291)
        assert s.image[:, :120].min() < 60  # the text's ink is inside the crop
    # line 2: the blob sits inside the bounding box but outside the polygon -> paper colour
    x0, y0, x1, y1 = BLOB
    assert (got[1].image[y0 - 70 : y1 - 70 + 1, x0 - 10 : x1 - 10 + 1] == PAPER).all()
    assert got[1].image[0, 0] == PAPER and got[1].image[-1, -1] == PAPER


def test_alto_v4(page_dir: Path) -> None:
    got = read_page_xml(page_dir / "page.alto.xml")
    check_lines(got, "alto")
    assert got[0].meta == {
        "source": "alto",
        "page": "page.png",
        "xml": "page.alto.xml",
        "line_id": "l1",
        "line": 1,
    }


def test_page_xml_2019(page_dir: Path) -> None:
    got = read_page_xml(page_dir / "page.page.xml")
    check_lines(got, "page-xml")
    assert [s.meta["line_id"] for s in got] == ["tl1", "tl2", "tl3"]


def test_older_namespaces_and_word_fallback(tmp_path: Path) -> None:
    draw_page(tmp_path / "page.png")
    alto = tmp_path / "a.xml"
    alto.write_text(alto_xml(ns="http://www.loc.gov/standards/alto/ns-v2#"), encoding="utf-8")
    assert len(read_page_xml(alto)) == 3
    words = '<Word id="w1">' + eq("only") + '</Word><Word id="w2">' + eq("words") + "</Word>"
    page = tmp_path / "p.xml"
    ns2013 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
    page.write_text(page_xml([("tl1", RECT1, words)], ns=ns2013), encoding="utf-8")
    assert [s.text for s in read_page_xml(page)] == ["only words"]


def test_image_found_in_parent_folder(tmp_path: Path) -> None:
    # Transkribus exports put the XML in page/ beside the images
    draw_page(tmp_path / "scan 7.png")
    xml = tmp_path / "page" / "scan 7.xml"
    xml.parent.mkdir()
    xml.write_text(page_xml(PAGE_LINES, image="scan 7.png"), encoding="utf-8")
    assert {s.doc for s in read_page_xml(xml)} == {"scan 7"}


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        ("10,10 20,10", r"2 distinct point\(s\), need at least 3"),
        ("10,10 50,10 90,10", "zero area"),
        ("500,10 600,10 600,50", "outside the 400x220 page image"),
        ("", r"0 distinct point\(s\)"),
    ],
)
def test_degenerate_polygon(tmp_path: Path, points: str, reason: str, caplog) -> None:
    draw_page(tmp_path / "page.png")
    xml = tmp_path / "p.xml"
    xml.write_text(page_xml([*PAGE_LINES[:1], ("bad", points, eq("text"))]), encoding="utf-8")
    with pytest.raises(DataError, match=rf"p\.xml: line 'bad' has a degenerate polygon \({reason}"):
        read_page_xml(xml)
    with caplog.at_level(logging.WARNING):
        assert [s.text for s in read_page_xml(xml, strict=False)] == ["first line"]
    assert "'bad'" in caplog.text


def test_partly_outside_polygon_is_clipped(tmp_path: Path) -> None:
    draw_page(tmp_path / "page.png")
    xml = tmp_path / "p.xml"
    xml.write_text(page_xml([("tl1", "-20,-5 450,-5 450,50 -20,50", eq("x"))]), encoding="utf-8")
    (got,) = read_page_xml(xml)
    assert got.image.shape == (51, 400)


def test_errors(tmp_path: Path) -> None:
    draw_page(tmp_path / "page.png")
    missing = tmp_path / "missing.xml"
    missing.write_text(page_xml(PAGE_LINES, image="nowhere.tif"), encoding="utf-8")
    with pytest.raises(DataError, match=r"page image 'nowhere\.tif' not found"):
        read_page_xml(missing)
    mm = tmp_path / "mm.xml"
    mm.write_text(alto_xml(unit="mm10"), encoding="utf-8")
    with pytest.raises(DataError, match=r"MeasurementUnit is 'mm10'"):
        read_page_xml(mm)
    other = tmp_path / "mets.xml"
    other.write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    with pytest.raises(DataError, match="neither ALTO .* nor PAGE-XML"):
        read_page_xml(other)
    broken = tmp_path / "broken.xml"
    broken.write_text("<alto><unclosed>", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.xml: not readable XML"):
        read_page_xml(broken)


def test_read_page_dir_skips_other_xml(page_dir: Path) -> None:
    (page_dir / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', "utf-8")
    got = read_page_dir(page_dir)
    assert [s.meta["xml"] for s in got] == ["page.alto.xml"] * 3 + ["page.page.xml"] * 3
    with pytest.raises(DataError, match="no ALTO or PAGE-XML files"):
        read_page_dir(page_dir / "..")
