"""Targets: the baseline band and the polygon interior drawn where the page's lines are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from htr.errors import ConfigError
from recognizer.finder import MAP_STRIDE
from recognizer.page_input import page_input
from training.data.page_samples import PageLine, PageSample
from training.data.page_targets import page_targets, random_crop, training_crops


def _page() -> PageSample:
    """A 1000 x 800 page with one ruled line of ink sitting on y=400 from x=100 to x=700."""
    image = np.full((1000, 800), 230, np.uint8)
    image[380:400, 100:700:7] = 20  # letters' stems ending on the baseline
    line = PageLine(
        polygon=[(90, 370), (710, 370), (710, 410), (90, 410)],
        baseline=[(100, 400), (700, 400)],
        text="x",
    )
    return PageSample(image, [line])


def test_the_input_is_what_serving_computes_and_maps_are_half_its_size():
    page = _page()
    x, y = page_targets(page, 512)
    expected, _ = page_input(torch.from_numpy(page.image.copy()).float(), 512)
    assert torch.equal(x, expected[0])
    assert y.shape == (2, x.shape[1] // MAP_STRIDE, x.shape[2] // MAP_STRIDE)
    assert y.dtype == torch.float32


def test_the_baseline_band_is_three_map_pixels_on_the_baseline():
    x, y = page_targets(_page(), 512)
    scale = 512 / 1000
    row = 400 * scale / MAP_STRIDE  # map coordinate of the baseline: 102.4 -> pixel 102
    col = int(400 * scale / MAP_STRIDE)  # the middle of the line
    band = torch.nonzero(y[0, :, col]).flatten().tolist()
    assert band == [int(row) - 1, int(row), int(row) + 1]
    # the band spans the line's length, not beyond
    cols = torch.nonzero(y[0, int(row)]).flatten()
    assert abs(int(cols.min()) - 100 * scale / MAP_STRIDE) <= 1.5
    assert abs(int(cols.max()) - 700 * scale / MAP_STRIDE) <= 1.5
    assert y[0].sum() == pytest.approx(3 * (cols.max() - cols.min() + 1), abs=6)


def test_the_region_fills_the_polygon():
    _, y = page_targets(_page(), 512)
    region = torch.nonzero(y[1])
    scale = 512 / 1000 / MAP_STRIDE
    assert abs(int(region[:, 0].min()) - 370 * scale) <= 1
    assert abs(int(region[:, 0].max()) - 410 * scale) <= 1
    assert y[1, int(390 * scale), int(400 * scale)] == 1
    assert y[1, int(300 * scale), int(400 * scale)] == 0


def test_crops_keep_input_and_targets_aligned():
    x, y = page_targets(_page(), 512)
    rng = np.random.default_rng(0)
    for _ in range(5):
        cx, cy = random_crop(x, y, 128, rng)
        assert cx.shape == (1, 128, 128) and cy.shape == (2, 64, 64)
    # one crop of the whole (smaller) page: padded with paper, the maps where they were
    cx, cy = random_crop(x, y, 528, rng)
    assert torch.equal(cx[:, : x.shape[1], : x.shape[2]], x) and cx[:, x.shape[1] :].sum() == 0
    assert torch.equal(cy[:, : y.shape[1], : y.shape[2]], y)
    with pytest.raises(ConfigError, match="crop=100"):
        random_crop(x, y, 100, rng)


def test_training_crops_vary_a_real_page_but_keep_its_geometry():
    rng = np.random.default_rng(1)
    xs, ys = training_crops(_page(), 512, 256, 3, rng, augment=True)
    assert xs.shape == (3, 1, 256, 256) and ys.shape == (3, 2, 128, 128)
    for x, y in zip(xs, ys, strict=True):
        band = y[0] > 0
        if band.any():  # the input is inky just above the band, the baseline ink's bottom
            rows = torch.nonzero(band.any(dim=1)).flatten()
            top = int(rows.min()) * MAP_STRIDE
            assert x[0, top - 6 : top, :].max() > 0.3
