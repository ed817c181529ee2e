"""experiments.crop: the share of a line the ink box keeps."""

from __future__ import annotations

import numpy as np

from experiments.crop import box_shares


def test_box_shares_of_a_line_with_paper_above_and_below():
    img = np.full((64, 400), 235, np.uint8)
    img[16:48, 20:380:3] = 20  # a 32-row box of strokes: half the rows, 358 of 400 columns
    r = box_shares([img, img])
    assert r["lines"] == 2
    assert r["rows"]["median"] == round((32 + 4) / 64, 3)  # 2 px of margin each side
    assert r["columns"]["median"] == round((358 + 4) / 400, 3)
    assert 1.5 < r["width_factor"]["median"] < 1.65  # 36 rows scaled to 40: wider than 64
