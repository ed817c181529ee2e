"""The validation table read back from a run's TensorBoard files."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from htr.errors import ConfigError
from training.history import main, scalars, table


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "r"
    for part, steps in (("a", (1023, 2047)), ("b", (2047, 3071, 3500))):  # b: a resumed run
        with SummaryWriter(str(run / "tensorboard" / part)) as w:
            for s in steps:
                w.add_scalar("val/cer/copiste", 0.5 - s / 10_000 - (part == "b") * 0.01, s)
                w.add_scalar("val/cer/hooker", 0.6, s)
                w.add_scalar("lines_per_s", 50.0 + s / 1000, s)
    return run


def test_a_row_per_validation_and_the_resumed_files_win(tmp_path, capsys):
    main([str(_run(tmp_path))])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| step | copiste | hooker |"
    assert out[2] == "| 1,023 | 39.8% | 60.0% |"
    assert out[3] == "| 2,047 | 28.5% | 60.0% |"  # b's value, not a's 29.5%
    assert out[-1].startswith("lines_per_s: mean 52.")


def test_every_keeps_the_multiples_and_the_last(tmp_path):
    rows = table(scalars(_run(tmp_path)), every=2048).splitlines()
    assert [r.split(" | ")[0] for r in rows[2:4]] == ["| 2,047", "| 3,500"]


def test_a_folder_without_tensorboard_files_says_what_to_pass(tmp_path):
    with pytest.raises(ConfigError, match=r"no TensorBoard files under .*runs/NAME"):
        scalars(tmp_path)
    with pytest.raises(ConfigError, match="no scalars under val/wer/"):
        table(scalars(_run(tmp_path)), tag="val/wer")
