"""Synthetic pages: deterministic, in reading order, with baselines on the ink's bottoms and
polygons around the ink."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training.data.page_warp import PageWarp, homography, random_warp
from training.data.synthetic_pages import SyntheticPageConfig, SyntheticPages

# Flat, scanned, unruled sheets: the ink is the only dark thing on them.
CLEAN = SyntheticPageConfig(photo=0.0, ruled=0.0, show_through=0.0, blank=0.0)


@pytest.fixture(scope="module")
def clean_pages():
    gen = SyntheticPages(CLEAN, seed=7)
    return [gen[i] for i in range(4)]


def _ink(image: np.ndarray) -> np.ndarray:
    """Ink share per pixel: 0 on paper, near 1 on full ink."""
    paper = float(np.median(image))
    return np.clip((paper - image.astype(np.float32)) / paper, 0, 1)


def _along(baseline: list[tuple[float, float]], n: int = 200) -> np.ndarray:
    """Points spread evenly along a polyline."""
    pts = np.asarray(baseline)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    s = np.linspace(0, t[-1], n)
    return np.stack([np.interp(s, t, pts[:, 0]), np.interp(s, t, pts[:, 1])], 1)


def _profile(ink: np.ndarray, baseline, offsets: range) -> np.ndarray:
    """Mean ink at each vertical offset from the baseline, along the whole line."""
    pts = _along(baseline)
    xs = np.clip(np.round(pts[:, 0]).astype(int), 0, ink.shape[1] - 1)
    rows = []
    for d in offsets:
        ys = np.clip(np.round(pts[:, 1] + d).astype(int), 0, ink.shape[0] - 1)
        rows.append(ink[ys, xs].mean())
    return np.array(rows)


def test_same_seed_and_index_same_page_other_index_other_page():
    a, b = SyntheticPages(seed=3), SyntheticPages(seed=3)
    for i in (5,):
        pa, pb = a[i], b[i]
        assert np.array_equal(pa.image, pb.image)
        assert [(ln.polygon, ln.baseline, ln.text) for ln in pa.lines] == [
            (ln.polygon, ln.baseline, ln.text) for ln in pb.lines
        ]
    other = a[6]
    assert other.image.shape != pa.image.shape or not np.array_equal(other.image, pa.image)


def test_pages_look_like_scans_of_letters():
    gen = SyntheticPages(seed=0)
    for i in range(2):
        p = gen[i]
        assert p.image.dtype == np.uint8 and 1200 <= max(p.image.shape) <= 1600
        assert all(ln.text and len(ln.baseline) >= 2 and len(ln.polygon) >= 4 for ln in p.lines)
        h, w = p.image.shape
        for ln in p.lines:
            pts = np.asarray(ln.polygon + ln.baseline)
            assert pts.min() >= 0 and (pts[:, 0] <= w - 1).all() and (pts[:, 1] <= h - 1).all()


def test_every_baseline_lies_on_the_bottoms_of_its_letters(clean_pages):
    offsets = range(-12, 13)
    for page in clean_pages:
        ink = _ink(page.image)
        assert page.lines
        for ln in page.lines:
            prof = _profile(ink, ln.baseline, offsets)
            above, below = prof[12 - 3 : 12].mean(), prof[12 + 2 : 12 + 5].mean()
            # letters sit on the baseline: ink just above it, only descenders below
            assert above > 2.5 * below, (page.key, ln.text, prof.round(2))
            # the steepest fall of the ink is at the baseline, within two pixels
            fall = np.argmin(prof[2:] - prof[:-2]) + 1 - 12
            assert abs(fall) <= 2, (page.key, ln.text, prof.round(2))


def test_polygons_hold_the_ink(clean_pages):
    for page in clean_pages:
        h, w = page.image.shape
        inside = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(inside)
        for ln in page.lines:
            draw.polygon([tuple(p) for p in ln.polygon], fill=1)
        ink = _ink(page.image)
        strong = ink > 0.5 * ink.max()  # pale pencil or black ink alike
        outside = strong & (np.asarray(inside) == 0)
        assert outside.sum() < 0.02 * strong.sum(), page.key
        # and they are loose, not the whole page: paper well below every line's polygon
        for ln in page.lines:
            bottom = max(y for _, y in ln.polygon)
            base = np.mean([y for _, y in ln.baseline])
            assert bottom > base, (page.key, ln.text)


def test_lines_come_in_reading_order(clean_pages):
    gen = SyntheticPages(SyntheticPageConfig(columns=1.0, note=1.0), seed=2)
    for page in [*clean_pages, gen[0], gen[1]]:
        blocks = page.meta["blocks"]
        assert blocks == sorted(blocks), page.key
        ys = [np.mean([y for _, y in ln.baseline]) for ln in page.lines]
        for k in range(1, len(ys)):
            if blocks[k] == blocks[k - 1]:
                assert ys[k] > ys[k - 1], (page.key, k)
    page = gen[0]
    lefts = {}
    for ln, b in zip(page.lines, page.meta["blocks"], strict=True):
        lefts.setdefault(b, min(x for x, _ in ln.baseline))
    assert len(lefts) >= 3  # two columns and a note at least


def test_blank_pages_have_no_lines():
    page = SyntheticPages(SyntheticPageConfig(blank=1.0), seed=0)[4]
    assert page.lines == [] and page.image.shape[0] >= 1200


def test_the_warp_moves_points_as_it_moves_pixels():
    rng = np.random.default_rng(0)
    warp = random_warp(600, 400, rng, photo=True)
    flat = np.full((600, 400), 200.0, np.float32)
    flat[300:303, 100:300] = 0.0  # a dark bar, rows 300-302: its middle is row 301
    out = warp.image(flat, fill=50.0)
    for x, y in warp.points(np.array([[120.0, 301.0], [200.0, 301.0], [280.0, 301.0]])):
        column = out[int(y) - 6 : int(y) + 7, int(round(x))]
        assert abs(int(y) - 6 + int(np.argmin(column)) - y) <= 1.0
    pts = np.array([[10.0, 20.0], [390.0, 580.0]])
    assert np.allclose(warp.source(warp.points(pts)), pts)


def test_homography_takes_corners_where_asked():
    src = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    dst = np.array([[1, 2], [11, 1], [12, 12], [0, 11]], float)
    got = PageWarp(10, 10, homography=homography(src, dst)).points(src)
    assert np.allclose(got, dst)
