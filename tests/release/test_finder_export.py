"""Exporting with a line finder: the file reads pages; without one it still reads lines."""

from __future__ import annotations

import pytest
import torch

from htr.errors import DataError
from release.finder_export import load_finder


def test_the_tiny_model_file_reads_pages(tiny_model_file):
    module = torch.jit.load(str(tiny_model_file))
    assert module.reads_pages()
    blank = torch.full((500, 400), 255, dtype=torch.uint8)
    assert module.read_page(blank) == []  # a blank page has no lines: not an error
    page = torch.randint(0, 256, (300, 200, 3), dtype=torch.uint8)
    for polygon, baseline, text, conf, _, _ in module.read_page(page):
        assert polygon.size(1) == 2 and baseline.size(1) == 2
        assert isinstance(text, str) and 0.0 <= conf <= 1.0


def test_a_lines_only_file_says_so(tmp_path, tiny):
    from release.export import export
    from training.cli import to_dict
    from training.module import LitRecognizer

    cfg = tiny()
    ckpt = tmp_path / "r.ckpt"
    torch.save(
        {"state_dict": LitRecognizer(cfg).state_dict(), "htr": {"config": to_dict(cfg)}}, ckpt
    )
    module = torch.jit.load(str(export(ckpt, tmp_path / "out", calibrate=False)))
    assert not module.reads_pages()
    with pytest.raises(torch.jit.Error, match="no line finder"):
        module.find_lines(torch.full((100, 100), 255, dtype=torch.uint8))


def test_a_recognizer_checkpoint_is_not_a_finder(tmp_path, tiny):
    from training.cli import to_dict

    ckpt = tmp_path / "r.ckpt"
    torch.save({"state_dict": {}, "htr": {"config": to_dict(tiny())}}, ckpt)
    with pytest.raises(DataError, match="not a line-finder checkpoint"):
        load_finder(ckpt)
    with pytest.raises(DataError, match="does not exist"):
        load_finder(tmp_path / "missing.ckpt")
