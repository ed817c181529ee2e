"""Fine-tuning a published model file on a folder of corrected lines (release.finetune)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from htr.errors import DataError
from release.export import verify
from release.finetune import main, run
from release.finetune_export import finetuned_predictor
from training.finetune import FinetuneConfig, finetune, load_published, read_lines

TEXTS = ["abc", "cab", "bca", "acb"]


def _line(text: str) -> np.ndarray:
    """A 32-px line of dark text on light paper, in PIL's built-in font."""
    img = Image.new("L", (12 * len(text) + 16, 32), 235)
    ImageDraw.Draw(img).text((8, 8), text, fill=20)
    return np.asarray(img.resize((img.width * 2, 32)))


def _folder(root: Path) -> Path:
    """A kraken-style folder, as the Space's feedback/ holds: NAME.png + NAME.gt.txt."""
    root.mkdir()
    for i, text in enumerate(TEXTS):
        Image.fromarray(_line(text)).save(root / f"line{i}.png")
        (root / f"line{i}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root


def _readings(model: torch.jit.ScriptModule, folder: Path) -> list[str]:
    images = [torch.from_numpy(s.image.copy()) for s in read_lines(folder)]
    return model.predict_batch(images)


FAST = FinetuneConfig(steps=40, minutes=2, lr=3e-3, warmup=2, batch_size=4, augment=False)


@pytest.fixture
def tuned(tiny_model_file: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The tiny model fine-tuned on the tiny folder: (new model.pt, the folder)."""
    lines = _folder(tmp_path / "feedback")
    return run(tiny_model_file, lines, tmp_path / "out", FAST), lines


def test_rebuilt_network_reads_as_the_file_does(tiny_model_file):
    pub = load_published(tiny_model_file)
    x = torch.rand(2, 1, 32, 96)
    with torch.no_grad():
        assert torch.allclose(pub.model.eval()(x), pub.scripted.model(x), atol=1e-5)


def test_finetuning_changes_the_reading_of_those_lines(tiny_model_file, tmp_path):
    lines = _folder(tmp_path / "feedback")
    pub = load_published(tiny_model_file)
    result = finetune(pub, read_lines(lines), FAST)
    assert result.steps == FAST.steps and result.held_out_lines == 0  # too few to hold out
    changed = zip(result.model.parameters(), pub.model.parameters(), strict=True)
    assert all(not torch.equal(p, q) for p, q in changed)  # every layer learned
    path = run(tiny_model_file, lines, tmp_path / "out", FAST)
    before, after = _readings(pub.scripted, lines), _readings(torch.jit.load(str(path)), lines)
    assert after != before
    right = [sum(r == t for r, t in zip(x, TEXTS, strict=True)) for x in (before, after)]
    assert right[1] >= right[0]


def test_the_written_file_passes_the_export_check_and_reads_lines(tuned):
    path, lines = tuned
    loaded = torch.jit.load(str(path))
    again = load_published(path)  # a fine-tuned file can itself be rebuilt (and tuned again)
    verify(finetuned_predictor(again, again.model, again.meta), loaded)
    texts = _readings(loaded, lines)
    assert len(texts) == len(TEXTS) and all(isinstance(t, str) for t in texts)
    assert loaded.reads_pages()  # the base file's line finder travels with it


def test_config_names_the_base_version_and_keeps_lm_and_calibration(tuned, tiny_model_file):
    path, _ = tuned
    base = torch.jit.load(str(tiny_model_file))
    config = json.loads((path.parent / "config.json").read_text())
    assert config["finetune"]["base_version"] == base.version
    assert config["finetune"]["train_lines"] == len(TEXTS)
    assert config["version"].startswith(base.version + "-ft4-")
    new = torch.jit.load(str(path))
    assert new.version == config["version"]
    assert torch.equal(new.lm_keys, base.lm_keys) and torch.equal(new.lm_values, base.lm_values)
    assert torch.equal(new.calib_line_x, base.calib_line_x)
    assert new.beam == base.beam and new.alpha == base.alpha


def test_held_out_lines_pick_the_step(tiny_model_file, tmp_path):
    lines = read_lines(_folder(tmp_path / "f")) * 5  # 20 lines: enough to hold some out
    ft = FinetuneConfig(steps=10, minutes=1, lr=3e-3, warmup=2, batch_size=4, eval_every=5)
    result = finetune(load_published(tiny_model_file), lines, ft)
    assert result.held_out_lines == 2 and result.train_lines == 18
    assert [h["step"] for h in result.history] == [0, 5, 10]
    best = min(h["held_out_cer"] for h in result.history)
    assert [h["held_out_cer"] for h in result.history if h["step"] == result.best_step] == [best]


def test_a_folder_without_lines_is_refused(tiny_model_file, tmp_path):
    empty = tmp_path / "feedback"
    empty.mkdir()
    with pytest.raises(DataError, match="feedback.*NAME.png"):
        run(tiny_model_file, empty, tmp_path / "out", FAST)
    (empty / "notes.json").write_text("{}")
    with pytest.raises(DataError, match="feedback"):
        read_lines(empty)
    assert main([str(tiny_model_file), str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "model.pt").exists()


def test_a_file_that_is_no_model_is_refused(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a model file"):
        load_published(bad)
