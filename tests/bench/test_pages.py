"""The whole-page runner on a fake model file with fixed geometry, and its report section."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import page_metrics as pm
from bench import pages, report_pages
from training.data.page_samples import PageLine, PageSample

# Each line's region is painted in its own grey level: the fake reads a line by its darkest
# pixel, so a line cut from its polygon (paper outside it) reads as that line.
BOXES = {10: (20, 20, 380, 60), 20: (20, 100, 380, 140), 30: (20, 165, 380, 195)}
READS = {10: "le chat", 20: "dort bin", 30: "zz"}  # the fake misreads "bien"
TRUTH = {10: "le chat", 20: "dort bien"}


def geometry(level: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    x0, y0, x1, y1 = BOXES[level]
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], [(x0, y1 - 5), (x1, y1 - 5)]


def page(key: str) -> PageSample:
    """A page with two GT lines (levels 10 and 20) and an unannotated mark (level 30)."""
    img = np.full((220, 400), 255, np.uint8)
    for level, (x0, y0, x1, y1) in BOXES.items():
        img[y0 : y1 + 1, x0 : x1 + 1] = level
    lines = [PageLine(*geometry(level), TRUTH[level]) for level in TRUTH]
    return PageSample(img, lines, key, {"lang": "eng"})


class FakeFile:
    """The page entry points of docs/pages.md, with a found-line order per call."""

    def __init__(self, order: list[list[int]]) -> None:
        self.order, self.calls = order, 0
        self.finder = torch.nn.Linear(10, 10)  # 110 float32 weights: 440 bytes

    def reads_pages(self) -> bool:
        return True

    def find_lines(self, image: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        levels = self.order[self.calls % len(self.order)]
        self.calls += 1
        return [tuple(torch.tensor(g, dtype=torch.float32) for g in geometry(v)) for v in levels]

    def cut_lines(self, image: torch.Tensor, lines: list) -> list[torch.Tensor]:
        out = []
        for polygon, _ in lines:
            x0, y0 = polygon.min(0).values.int().tolist()
            x1, y1 = polygon.max(0).values.int().tolist()
            out.append(image[y0 : y1 + 1, x0 : x1 + 1].clone())
        return out

    def read_lines(self, images: list[torch.Tensor]) -> list[tuple[str, float, bool, list]]:
        return [(READS.get(int(im.min()), ""), 0.9, False, []) for im in images]

    def read_page(self, image: torch.Tensor) -> list[tuple]:
        self.calls -= 1  # read_page finds the same lines as the find_lines call before it
        lines = self.find_lines(image)
        read = self.read_lines(self.cut_lines(image, lines))
        return [(p, b, *r) for (p, b), r in zip(lines, read, strict=True)]


def tesseract_reads_all(image: np.ndarray, lang: str) -> tuple[list[str], float]:
    assert lang == "eng"
    return ["le chat", "dort bien"], 0.5


@pytest.fixture
def measured(tmp_path: Path) -> dict:
    # page a: both lines and the mark, in order; page b: the lines in the wrong order
    fake = FakeFile([[10, 20, 30], [20, 10]])
    sets = {"toy-val": [page("a"), page("b")]}
    return pages.measure(fake, sets, tmp_path, 1, pm.TOLERANCE, tesseract_reads_all)


def test_runner_reports_baselines_and_page_cer(measured):
    s = measured["sets"]["toy-val"]
    assert (s["pages"], s["gt_lines"], s["found_lines"]) == (2, 4, 5)
    assert s["precision"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4) and s["recall"] == 1
    assert s["f1"] == pytest.approx(2 * (5 / 6) / (1 + 5 / 6), abs=1e-4) and s["found"] == 1
    # a: "bin" for "bien" (1) and the mark read as "\nzz" (3); b: the same lines swapped
    swapped = pm.levenshtein("dort bin\nle chat", "le chat\ndort bien")
    assert s["cer_ordered"] == pytest.approx((4 + swapped) / 34, abs=1e-4)
    assert s["cer_order_free"] == pytest.approx((1 + 2 + 1) / 32, abs=1e-4)  # "zz" inserted
    # the mark is nowhere near a GT line: annotated text leaves it out, not the swap
    assert s["cer_annotated"] == pytest.approx((1 + swapped) / 34, abs=1e-4)
    assert s["gt_cut_cer"] == pytest.approx(2 / 32, abs=1e-4) and s["gt_cut_lines"] == 4
    assert s["tesseract"] == {"cer_ordered": 0, "cer_order_free": 0, "seconds_per_page": 0.5}
    assert s["lang"] == "eng" and [p["key"] for p in s["per_page"]] == ["a", "b"]


def test_runner_times_finding_and_reading_and_draws_the_example(measured, tmp_path):
    speed = measured["speed"]
    assert speed["pages"] == 2 and speed["side"] == 1600 and set(speed["threads"]) == {"1", "2"}
    assert all(t["find_s"] >= 0 and t["read_s"] >= 0 for t in speed["threads"].values())
    assert speed["twenty_lines_s"] is not None
    assert measured["finder_bytes"] == 440
    png = tmp_path / "bench" / "page_example.png"
    assert measured["example"] == {"path": "bench/page_example.png", "page": "a"}
    assert Image.open(png).size == (400, 220) and png.stat().st_size < 400_000


def test_a_blank_gt_line_keeps_its_found_line_out_of_the_text(tmp_path):
    p = page("a")
    p.lines[1].text = ""  # transcribed nowhere: its reading cannot be scored
    scored = pages.score_page(FakeFile([[10, 20]]), p, pm.TOLERANCE)
    assert scored["ordered"] == (0, 7) and scored["gt_cut"] == (0, 7)


def test_runner_skips_files_that_read_lines_only_and_absent_data(tmp_path):
    assert "reads lines only" in pages.run(object(), tmp_path, 1, tmp_path)["skipped"]
    absent = pages.run(FakeFile([[10]]), tmp_path, 1, tmp_path / "none")["skipped"]
    assert absent.startswith("no val page shards")


def test_val_pages_groups_shards_by_set(tmp_path):
    png, xml = io.BytesIO(), page_xml()
    Image.fromarray(page("a").image).save(png, format="PNG")
    for name in ("toy-val-000.tar", "toy-val-001.tar", "toy-train-000.tar"):
        with tarfile.open(tmp_path / name, "w") as tf:
            for member, data in (("p.png", png.getvalue()), ("p.xml", xml)):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    sets = pages.val_pages(tmp_path)
    assert list(sets) == ["toy-val"] and len(sets["toy-val"]) == 2
    assert [ln.text for ln in sets["toy-val"][0].lines] == ["le chat"]


def page_xml() -> bytes:
    polygon, baseline = geometry(10)
    pts = " ".join(f"{x:g},{y:g}" for x, y in polygon)
    base = " ".join(f"{x:g},{y:g}" for x, y in baseline)
    ns = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
    return (
        f'<PcGts xmlns="{ns}"><Page imageFilename="p.png" imageWidth="400" imageHeight="220">'
        f'<TextRegion id="r"><TextLine id="l1"><Coords points="{pts}"/><Baseline points="{base}"/>'
        "<TextEquiv><Unicode>le chat</Unicode></TextEquiv></TextLine></TextRegion></Page></PcGts>"
    ).encode()


def test_report_section_renders_rows_speed_and_targets(measured):
    md = "\n".join(report_pages.section(measured))
    assert "## Whole pages" in md and "baseline P / R / F1 @ 10 px" in md
    assert "| toy-val | 2 | 4 | 0.833 / 1.000 / 0.909 | 100.0% |" in md
    assert "| 1 | " in md and "| 2 | " in md and "A 20-line page end to end" in md
    assert "![Lines found on a](bench/page_example.png)" in md
    met = {t["target"]: t for t in report_pages.targets(measured)}
    assert met["copiste-val baseline F1 @ 10 px ≥ 0.95"]["value"] == "not measured (set absent)"
    assert not met["toy-val: page CER ≤ GT-cut CER + 2 points"]["met"]
    assert met["finding a page's lines ≤ 0.5 s (1 thread)"]["met"]
    assert met["line finder ≤ 10 MB"] == {
        "target": "line finder ≤ 10 MB",
        "value": "0.0 MB",
        "met": True,
    }


def test_report_section_says_why_it_was_skipped():
    assert report_pages.section({"skipped": "--no-pages"})[-1] == "Not measured: --no-pages."
    assert report_pages.targets({"skipped": "--no-pages"}) == []
