"""Preprocessing shared by training and serving: crop to the ink, scale to the height."""

from __future__ import annotations

import torch

from recognizer.preprocess import crop_to_ink, fit_height


def _line(h: int = 64, w: int = 400, ink: float = 20.0) -> torch.Tensor:
    grey = torch.full((h, w), 235.0)
    grey[20:44, 50:350:3] = ink  # strokes in rows 20-43, columns 50-347: a 24 x 298 box
    return grey


def test_crop_keeps_the_ink_box_and_a_margin_of_its_height():
    out = crop_to_ink(_line(), margin=0.05)
    pad = round(0.05 * 24)  # 1 px of the 24-px ink box
    assert out.shape == (24 + 2 * pad, 298 + 2 * pad)
    assert float(out[pad:-pad, pad:-pad].min()) == 20.0  # the ink is inside the margin
    assert float(out[0].min()) == 235.0 and float(out[:, 0].min()) == 235.0  # paper around


def test_an_image_without_ink_comes_back_whole():
    blank = torch.full((50, 120), 200.0)
    assert crop_to_ink(blank).shape == (50, 120)
    faint = blank.clone()
    faint[10:20, 10:100:3] = 180.0  # 20 grey levels: not clearly ink
    assert crop_to_ink(faint).shape == (50, 120)


def test_a_speck_does_not_stretch_the_box_but_a_thin_accent_is_kept():
    grey = _line()
    grey[2, 380] = 0.0  # a speck above and right of the line: one pixel in its row and column
    grey[10:14, 360:362] = 0.0  # an accent after the last letter: 2 px a row, 4 a column
    out = crop_to_ink(grey, margin=0.0)  # the margin is still 1 px
    assert out.shape == (44 - 10 + 2, 362 - 50 + 2)


def test_rules_and_dark_borders_are_not_text():
    grey = _line()
    grey[50] = 40.0  # a ruled line across the page, below the text
    grey[:, :3] = 10.0  # a scanner's dark edge
    assert crop_to_ink(grey).shape == crop_to_ink(_line()).shape == (26, 300)


def test_faint_strokes_count_even_next_to_a_blot():
    grey = _line(ink=150.0)  # pencil-light strokes, 85 levels under the paper
    grey[30:33, 200:203] = 0.0  # and one black blot in the middle
    assert crop_to_ink(grey).shape == (26, 300)


def test_cropping_makes_the_margins_of_a_photo_irrelevant():
    tight = _line()
    loose = torch.full((300, 1600), 235.0)
    loose[100:164, 600:1000] = tight  # the same line with a lot of paper around it
    a = fit_height(tight, 40, 4096, crop=True)
    b = fit_height(loose, 40, 4096, crop=True)
    assert a.shape == b.shape
    assert float((a - b).abs().max()) < 1e-3
    # uncropped, the whole photo is 40 px high: the line's 64 rows shrink to under 9
    assert fit_height(loose, 40, 4096).shape == (40, round(1600 * 40 / 300))


def test_x_scale_changes_only_the_width():
    grey = _line()
    assert fit_height(grey, 40, 4096).shape == (40, 250)  # 400 x 64 scaled to 40 rows
    assert fit_height(grey, 40, 4096, x_scale=0.5).shape == (40, 125)
    assert fit_height(grey, 40, 100).shape == (40, 100)  # the cap still holds
