"""A page through serving: the page dict of docs/pages.md, its limits and its refusals."""

from __future__ import annotations

import pytest
import torch

from serving import pages
from serving.errors import BadRequest, TooLarge


def test_a_blank_page_reads_as_no_lines(served_model):
    out = pages.read_page(torch.full((600, 400), 250, dtype=torch.uint8))
    assert out["lines"] == [] and out["text"] == ""
    assert (out["width"], out["height"]) == (400, 600)
    assert set(out["timing_ms"]) == {"find", "read"}


def test_every_found_line_has_geometry_text_and_confidence(served_model):
    page = torch.randint(0, 256, (400, 300), dtype=torch.uint8)
    out = pages.read_page(page)
    assert out["text"] == "\n".join(line["text"] for line in out["lines"])
    for i, line in enumerate(out["lines"], 1):
        assert line["id"] == f"line_{i}"
        assert all(0 <= x <= 300 and 0 <= y <= 400 for x, y in line["polygon"])
        assert len(line["baseline"]) >= 2 and 0.0 <= line["confidence"] <= 1.0


def test_a_huge_page_is_refused_with_the_limit(served_model, monkeypatch):
    monkeypatch.setattr(pages, "MAX_PAGE_PIXELS", 1000)
    with pytest.raises(TooLarge, match="at most 1,000 pixels"):
        pages.read_page(torch.full((100, 100), 255, dtype=torch.uint8))


def test_a_lines_only_file_is_a_clear_refusal(served_model, monkeypatch):
    from serving import model as model_store

    loaded = model_store.get()

    class LinesOnly:
        def reads_pages(self) -> bool:
            return False

    monkeypatch.setattr(loaded, "module", LinesOnly())
    with pytest.raises(BadRequest, match="reads single lines only"):
        pages.read_page(torch.full((100, 100), 255, dtype=torch.uint8))
