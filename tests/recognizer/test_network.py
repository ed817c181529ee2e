"""The network and its decoding."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from htr.errors import ConfigError
from recognizer.ctc import greedy_decode
from recognizer.network import ConvSequence, ModelConfig, Recognizer, output_lengths


@pytest.mark.parametrize("sequence", ["transformer", "conv"])
def test_any_width_gives_one_step_per_four_pixels(sequence):
    cfg = ModelConfig(height=32, channels=(8, 16, 16), hidden=32, layers=1, sequence=sequence)
    model = Recognizer(cfg, num_classes=11).eval()
    scripted = torch.jit.script(model)  # every sequence model must export
    for width in (16, 101, 640):
        out = model(torch.rand(2, 1, 32, width))
        assert out.shape == (width // 4, 2, 11)
        assert torch.allclose(
            scripted(torch.rand(1, 1, 32, width)).exp().sum(-1),
            torch.ones(width // 4, 1),
            atol=1e-4,
        )
        assert torch.allclose(out.exp().sum(-1), torch.ones(width // 4, 2), atol=1e-4)


def test_bad_values_name_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"model.sequence='gru'.*conv.*transformer"):
        ModelConfig(sequence="gru")
    with pytest.raises(ConfigError, match=r"model.height=30.*multiple of 8"):
        ModelConfig(height=30)
    with pytest.raises(ConfigError, match=r"model.dropout_mode='spatial'.*element.*channel"):
        ModelConfig(dropout_mode="spatial")
    with pytest.raises(ConfigError, match=r"model.depth=\(1, 2\).*one count >= 1 per conv width"):
        ModelConfig(channels=(8, 16, 16), depth=(1, 2))
    with pytest.raises(ConfigError, match=r"model.depth=\(1, 0, 1\)"):
        ModelConfig(channels=(8, 16, 16), depth=(1, 0, 1))
    with pytest.raises(ConfigError, match=r"model.x_scale=0.1; use a factor from 0.25 to 4"):
        ModelConfig(x_scale=0.1)


def test_depth_stacks_convolutions_per_width_and_one_each_is_the_old_network():
    small = dict(height=32, channels=(8, 16, 16), hidden=32, layers=1)
    old = Recognizer(ModelConfig(**small), 11)
    same = Recognizer(ModelConfig(**small, depth=(1, 1, 1)), 11)
    assert old.state_dict().keys() == same.state_dict().keys()  # old checkpoints still load
    deep = Recognizer(ModelConfig(**small, depth=(1, 2, 3)), 11).eval()
    convs = [m for m in deep.cnn.modules() if isinstance(m, nn.Conv2d)]
    pairs = [(1, 8), (8, 16), (16, 16), (16, 16), (16, 16), (16, 16)]
    assert [(c.in_channels, c.out_channels) for c in convs] == pairs
    x = torch.rand(2, 1, 32, 101)
    out = deep(x)
    assert out.shape == (101 // 4, 2, 11)  # extra depth keeps the strides
    assert torch.allclose(torch.jit.script(deep)(x), out, atol=1e-5)


def test_each_conv_block_sees_three_frames_either_side():
    torch.manual_seed(0)
    seq = ConvSequence(8, 1, 0.0).eval()
    x = torch.rand(1, 81, 8)  # (B, T, D)
    y = x.clone()
    y[0, 40] += 1.0
    moved = torch.nonzero((seq(x) - seq(y)).abs().sum(-1)[0] > 0).flatten()
    assert (int(moved.min()), int(moved.max())) == (40 - 6, 40 + 6)  # two 7-tap blocks


def test_channel_dropout_drops_whole_channels_of_a_line_in_training_only():
    cfg = ModelConfig(height=32, channels=(8, 16, 16), hidden=32, layers=1, dropout=0.5)
    model = Recognizer(dataclasses.replace(cfg, dropout_mode="channel"), 11)
    drops = [m for m in model.modules() if isinstance(m, (nn.Dropout, nn.Dropout1d))]
    assert len(drops) == 3 and all(isinstance(m, nn.Dropout1d) for m in drops)  # 2 blocks, head
    x = torch.rand(3, 32, 40)  # (B, D, T) features, as the sequence model's blocks see them
    torch.manual_seed(0)
    y = model.dropout.train()(x)
    zero = (y == 0).all(dim=2)  # (B, D): a channel is either dropped on every frame or on none
    assert zero.any() and not zero.all()
    assert torch.equal((y == 0), zero[:, :, None].expand_as(y))
    assert torch.allclose(y[~zero], 2 * x[~zero])
    # Per-activation dropout zeroes scattered frames instead.
    torch.manual_seed(0)
    e = Recognizer(cfg, 11).dropout.train()(x)
    assert not torch.equal(e == 0, (e == 0).all(dim=2, keepdim=True).expand_as(e))
    # Off in eval, and the exported (scripted) network is the same function.
    model.eval()
    image = torch.rand(2, 1, 32, 64)
    assert torch.allclose(torch.jit.script(model)(image), model(image), atol=1e-5)


def test_output_lengths():
    assert output_lengths(torch.tensor([3, 4, 17]), 4).tolist() == [1, 1, 4]


def test_greedy_decode_collapses_repeats_and_drops_blanks():
    # T=6, B=1, C=3: path 1 1 0 1 2 2 -> "1 1 2"
    path = torch.tensor([1, 1, 0, 1, 2, 2])
    lp = torch.full((6, 1, 3), -10.0)
    lp[torch.arange(6), 0, path] = 0.0
    ids, conf = greedy_decode(lp, torch.tensor([6]))
    assert ids == [[1, 1, 2]]
    assert conf[0] == pytest.approx(1.0, abs=1e-3)
    ids, _ = greedy_decode(lp, torch.tensor([2]))  # only the first two steps count
    assert ids == [[1]]
