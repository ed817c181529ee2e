"""Folding batch norm into the convolutions before serving keeps the network's outputs."""

from __future__ import annotations

import copy

import pytest
import torch

from recognizer.fold import count_batch_norms, fold_batch_norm
from recognizer.network import ModelConfig, Recognizer
from recognizer.predictor import LinePredictor


def _trained_looking(sequence: str) -> Recognizer:
    """A network whose batch norms are far from the identity, as after training."""
    torch.manual_seed(0)
    model = Recognizer(
        ModelConfig(
            height=32,
            channels=(8, 16, 24),
            depth=(1, 1, 2),
            sequence=sequence,
            hidden=32,
            layers=1,
        ),
        num_classes=12,
    )
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.2, 3)
            m.weight.data.uniform_(0.5, 2)
            m.bias.data.uniform_(-1, 1)
    return model.eval()


@pytest.mark.parametrize("sequence", ["conv", "transformer"])
def test_folded_network_gives_the_same_log_probabilities(sequence):
    model = _trained_looking(sequence)
    before = count_batch_norms(model)
    folded = fold_batch_norm(model)
    assert before > 0 and count_batch_norms(folded) == 0
    assert count_batch_norms(model) == before  # the trained module is left as it was
    x = torch.rand(2, 1, 32, 97)
    with torch.no_grad():
        want, got, wrong = model(x), folded(x), _unnormalised(model)(x)
    assert want.shape == got.shape
    assert torch.allclose(want, got, atol=1e-4), float((want - got).abs().max())
    assert not torch.allclose(want, wrong, atol=1e-2)  # the norms mattered


def _unnormalised(model: Recognizer) -> Recognizer:
    """A wrong fold: the same network with its batch norms dropped."""
    other = copy.deepcopy(model)
    for seq in other.modules():
        if isinstance(seq, torch.nn.Sequential):
            for i, m in enumerate(seq):
                if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                    seq[i] = torch.nn.Identity()
    return other


def test_serving_module_runs_the_folded_network():
    model = _trained_looking("conv")
    served = LinePredictor(model, "abcdefghijk", 32, 4, 4096, "{}")
    assert count_batch_norms(served) == 0 and count_batch_norms(model) > 0
    x = torch.rand(1, 1, 32, 64)
    with torch.no_grad():
        assert torch.allclose(served(x), model(x), atol=1e-4)
