"""The finder's maps to lines: exact maps of known pages give back their lines, in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from recognizer.finder import FinderConfig, FinderNet
from recognizer.page_finder import PageFinder, cut_line
from recognizer.page_lines import label_components, split_by_label

HEIGHT, WIDTH = 1600, 1200
SCALE = 1024 / 1600  # FinderConfig().size over the page's long side
MAP = SCALE / 2  # page pixels to map pixels


def exact_maps(lines: list[tuple[tuple[float, float], tuple[float, float]]]) -> torch.Tensor:
    """(2, h, w) maps a perfect finder would give: baseline bands and line regions."""
    size = (int(np.ceil(WIDTH * MAP)), int(np.ceil(HEIGHT * MAP)))
    base, region = Image.new("L", size, 0), Image.new("L", size, 0)
    for (x0, y0), (x1, y1) in lines:
        ImageDraw.Draw(base).line([(x0 * MAP, y0 * MAP), (x1 * MAP, y1 * MAP)], 255, width=3)
        box = [(x0, y0 - 50), (x1, y1 - 50), (x1, y1 + 12), (x0, y0 + 12)]
        ImageDraw.Draw(region).polygon([(x * MAP, y * MAP) for x, y in box], fill=255)
    maps = [np.asarray(m, dtype=np.float32) / 255 for m in (base, region)]
    return torch.from_numpy(np.stack(maps))


@pytest.fixture(scope="module")
def finder():
    return torch.jit.script(PageFinder(FinderNet(), FinderConfig()))


def _two_columns() -> list[tuple[tuple[float, float], tuple[float, float]]]:
    lines = []
    # two text columns, each with its own rows (a table's rows would be shared)
    for left, right, offset in ((100, 540, 0), (660, 1100, 55)):
        for row in range(8):
            y = 160 + row * 110 + offset
            lines.append(((left, y), (right, y + 20)))  # a slight slope
    return lines


def test_exact_maps_give_every_line_in_reading_order(finder):
    truth = _two_columns()
    found = finder.lines_from_maps(exact_maps(truth), SCALE, HEIGHT, WIDTH)
    assert len(found) == len(truth)
    # columns left to right, each top to bottom: the order the lines were listed in
    for (polygon, baseline), ((x0, y0), (x1, y1)) in zip(found, truth, strict=True):
        assert abs(float(baseline[0, 0]) - x0) < 8 and abs(float(baseline[-1, 0]) - x1) < 8
        assert abs(float(baseline[0, 1]) - y0) < 6 and abs(float(baseline[-1, 1]) - y1) < 6
        assert float(polygon[:, 1].min()) < y0 - 30 < y1 + 5 < float(polygon[:, 1].max())


def test_a_marginal_note_beside_the_body_is_read_after_the_body(finder):
    body = [((400, 200 + 100 * r), (1100, 200 + 100 * r)) for r in range(5)]
    note = [((60, 300), (300, 300))]
    found = finder.lines_from_maps(exact_maps(body + note), SCALE, HEIGHT, WIDTH)
    starts = [round(float(b[0, 0])) for _, b in found]
    assert len(found) == 6 and starts[-1] < 100 and all(s > 350 for s in starts[:-1])


def test_table_cells_are_read_row_by_row(finder):
    # a register: narrow cells in three columns, one row after another
    cells = [
        ((x, 200 + 90 * r), (x + 200, 200 + 90 * r)) for r in range(6) for x in (100, 450, 800)
    ]
    found = finder.lines_from_maps(exact_maps(cells), SCALE, HEIGHT, WIDTH)
    order = [(round(float(b[:, 1].mean()) / 90), round(float(b[0, 0]) / 350)) for _, b in found]
    assert order == sorted(order) and len(found) == 18


def test_a_blank_page_has_no_lines(finder):
    assert finder.lines_from_maps(exact_maps([]), SCALE, HEIGHT, WIDTH) == []


def test_specks_and_upright_strokes_are_not_lines(finder):
    maps = exact_maps([])
    maps[0, 100:103, 100:103] = 1.0  # a speck
    maps[0, 200:260, 300:303] = 1.0  # a vertical rule
    assert finder.lines_from_maps(maps, SCALE, HEIGHT, WIDTH) == []


def test_components_are_eight_connected_and_separate_otherwise():
    mask = torch.zeros(10, 30, dtype=torch.bool)
    mask[2, 0:10] = True
    mask[3, 10:20] = True  # touches the first run diagonally: the same component
    mask[7, 5:25] = True
    keys, ys, _ = split_by_label(label_components(mask))
    assert sorted(len(y) for y in ys) == [20, 20] and len(keys) == 2


def test_a_cut_line_is_its_box_with_paper_outside_its_polygon():
    page = torch.full((200, 300), 200.0)
    page[40:60, :] = 0.0  # ink across the page, also outside the polygon's columns
    polygon = torch.tensor(
        [[50.0, 30.0], [150.0, 30.0], [250.0, 30.0], [250.0, 70.0], [150.0, 70.0], [50.0, 70.0]]
    )
    crop = cut_line(page, polygon)
    assert crop.dtype == torch.uint8 and tuple(crop.shape) == (40, 200)
    assert int(crop[15, 100]) == 0 and int(crop[0, 100]) == 200


def test_a_short_fragment_among_long_lines_is_dropped(finder):
    body = [((100, 200 + 100 * r), (1100, 200 + 100 * r)) for r in range(5)]
    stain = [((600, 900), (660, 900))]  # a stamp's edge: 60 px, under a fifth of a line
    found = finder.lines_from_maps(exact_maps(body + stain), SCALE, HEIGHT, WIDTH)
    assert len(found) == 5 and all(float(b[0, 0]) < 150 for _, b in found)


def test_a_page_turned_sideways_gives_no_lines_rather_than_garbage(finder):
    # the maps a finder could give for a page turned 90 degrees: every baseline upright
    lines = _two_columns()
    turned = [((y0 * 0.7, x0 * 1.2), (y1 * 0.7, x1 * 1.2)) for (x0, y0), (x1, y1) in lines]
    assert finder.lines_from_maps(exact_maps(turned), SCALE, HEIGHT, WIDTH) == []
