"""The serving core keeps a file's bf16 network only where it is the faster one."""

from __future__ import annotations

import logging
import time

import pytest
import torch

from serving import model, precision
from serving.precision import choose_precision


class FakeModule:
    """A model file whose network takes `bf16_s` or `fp32_s` seconds a call."""

    def __init__(self, bf16_s: float, fp32_s: float) -> None:
        self.bf16, self.height = True, 8
        self.seconds = {True: bf16_s, False: fp32_s}
        self.calls: list[bool] = []

    def set_bf16(self, on: bool) -> bool:
        previous, self.bf16 = self.bf16, on
        return previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape == (1, 1, 8, 128)
        self.calls.append(self.bf16)
        if self.seconds[self.bf16] < 0:
            raise RuntimeError("no bf16 kernel for this layer")
        time.sleep(self.seconds[self.bf16])
        return x


@pytest.fixture
def kernels(monkeypatch):
    """Pretend this CPU has oneDNN's bf16 kernels (or not, by setting kernels[0])."""
    answer = [True]
    monkeypatch.setattr(precision, "bf16_kernels", lambda: answer[0])
    return answer


def test_bf16_is_kept_where_it_is_faster_and_dropped_where_it_is_slower(kernels, caplog):
    fast = FakeModule(bf16_s=0.001, fp32_s=0.006)
    with caplog.at_level(logging.INFO, logger="serving.precision"):
        assert choose_precision(fast) is True
    assert fast.bf16 is True and "network in bf16" in caplog.text
    assert fast.calls == [True, False] * 4  # a warm-up each, then 3 timed in turns
    slow = FakeModule(bf16_s=0.006, fp32_s=0.001)
    assert choose_precision(slow) is False and slow.bf16 is False


def test_without_bf16_kernels_or_when_bf16_fails_float32_serves(kernels, caplog):
    kernels[0] = False
    m = FakeModule(0.0, 0.0)
    assert choose_precision(m) is False and m.bf16 is False and m.calls == []
    kernels[0] = True
    broken = FakeModule(bf16_s=-1.0, fp32_s=0.0)
    with caplog.at_level(logging.WARNING, logger="serving.precision"):
        assert choose_precision(broken) is False
    assert broken.bf16 is False and "no bf16 kernel for this layer" in caplog.text


def test_files_without_bf16_or_with_it_off_are_left_alone():
    class Old:  # exported before decode.bf16
        height = 8

    assert choose_precision(Old()) is False
    off = FakeModule(0.0, 0.0)
    off.bf16 = False
    assert choose_precision(off) is False and off.calls == []


def test_loading_a_file_measures_both_and_keeps_the_faster(served_model, caplog):
    with caplog.at_level(logging.INFO, logger="serving.precision"):
        m = model.get().module
    chosen = "bf16" if m.bf16 else "float32"
    assert f"network in {chosen}:" in caplog.text  # load() chose, and the file kept it
