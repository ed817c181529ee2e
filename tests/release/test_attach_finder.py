"""A published file given a (new) line finder: same line readings, pages read by the new one."""

from __future__ import annotations

import json

import pytest
import torch

from htr.errors import DataError
from release.attach_finder import attach


def test_attaching_a_finder_keeps_the_readings_and_swaps_the_finder(
    tiny_model_file, finder_checkpoint, tmp_path
):
    ckpt = finder_checkpoint(tmp_path / "f.ckpt", channels=(4, 8, 8, 8))
    out = attach(tiny_model_file, ckpt, tmp_path / "out")
    base, new = torch.jit.load(str(tiny_model_file)), torch.jit.load(str(out))
    line = torch.randint(0, 256, (32, 200), dtype=torch.uint8)
    assert new.predict_batch([line]) == base.predict_batch([line])
    assert new.reads_pages()
    meta = json.loads((tmp_path / "out" / "config.json").read_text())
    assert meta["finder"]["channels"] == [4, 8, 8, 8]  # the new finder, not the file's own
    assert meta["version"].startswith(str(base.version)) and meta["version"] != base.version


def test_a_missing_model_file_is_a_clear_error(finder_checkpoint, tmp_path):
    ckpt = finder_checkpoint(tmp_path / "f.ckpt")
    with pytest.raises(DataError, match="does not exist"):
        attach(tmp_path / "nope.pt", ckpt, tmp_path / "out")
