"""The network and its decoding."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from htr.errors import ConfigError
from recognizer.ctc import greedy_decode
from recognizer.network import ConvSequence, ModelConfig, Recognizer, SpacedConv1d, output_lengths


@pytest.mark.parametrize("sequence", ["lstm", "transformer", "conv", "hybrid"])
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


def test_two_frames_per_step_double_the_ctc_frames_and_export():
    cfg = ModelConfig(height=32, channels=(8, 16, 16), hidden=32, layers=1, frames=2)
    assert cfg.stride == 2
    model = Recognizer(cfg, num_classes=11).eval()
    one = Recognizer(ModelConfig(height=32, channels=(8, 16, 16), hidden=32, layers=1), 11)
    # Only the head grows: one extra output row per class.
    assert sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in one.parameters()
    ) == 11 * (32 + 1)
    x = torch.rand(2, 1, 32, 101)
    out = model(x)
    assert out.shape == (2 * (101 // 4), 2, 11)
    assert torch.allclose(torch.jit.script(model)(x), out, atol=1e-5)


def test_bad_values_name_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"model.sequence='gru'.*lstm.*transformer.*conv"):
        ModelConfig(sequence="gru")
    with pytest.raises(ConfigError, match=r"model.height=30.*multiple of 8"):
        ModelConfig(height=30)
    with pytest.raises(ConfigError, match=r"model.frames=3.*\(1, 2, 4\)"):
        ModelConfig(frames=3)
    with pytest.raises(ConfigError, match=r"model.dropout_mode='spatial'.*element.*channel"):
        ModelConfig(dropout_mode="spatial")
    with pytest.raises(ConfigError, match=r"model.depth=\(1, 2\).*one count >= 1 per conv width"):
        ModelConfig(channels=(8, 16, 16), depth=(1, 2))
    with pytest.raises(ConfigError, match=r"model.depth=\(1, 0, 1\)"):
        ModelConfig(channels=(8, 16, 16), depth=(1, 0, 1))
    with pytest.raises(ConfigError, match=r"model.x_scale=0.1; use a factor from 0.25 to 4"):
        ModelConfig(x_scale=0.1)
    with pytest.raises(ConfigError, match=r"model.dilation=\(1, 2\).*6 for model.layers=3"):
        ModelConfig(layers=3, dilation=(1, 2))
    with pytest.raises(ConfigError, match=r"model.sequence='lstm' has none; use conv or hybrid"):
        ModelConfig(sequence="lstm", layers=1, dilation=(1, 2))


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


def test_dilation_widens_the_sequence_models_context_at_the_same_size():
    def reach(dilation: tuple[int, ...]) -> int:
        """Frames on either side of frame 40 that a change at frame 40 moves (one line)."""
        torch.manual_seed(0)
        seq = ConvSequence(8, 1, 0.0, dilation=dilation).eval()
        x = torch.rand(1, 81, 8)  # (B, T, D)
        y = x.clone()
        y[0, 40] += 1.0
        moved = (seq(x) - seq(y)).abs().sum(-1)[0] > 0  # (T,)
        frames = torch.nonzero(moved).flatten()
        return int(frames.max()) - 40

    assert reach(()) == reach((1, 1)) == 6  # two 7-tap blocks: 3 frames each side
    assert reach((1, 4)) == 3 + 12
    plain = ModelConfig(height=32, channels=(8, 16, 16), hidden=32, layers=1)
    wide = dataclasses.replace(plain, dilation=(2, 4))
    a, b = Recognizer(plain, 11), Recognizer(wide, 11).eval()
    assert a.state_dict().keys() == b.state_dict().keys()  # the same weights, spread out
    x = torch.rand(2, 1, 32, 101)
    out = b(x)
    assert out.shape == (101 // 4, 2, 11)
    assert torch.allclose(torch.jit.script(b)(x), out, atol=1e-5)


@pytest.mark.parametrize("frames", [1, 5, 12, 37])
@pytest.mark.parametrize("spacing", [1, 2, 4])
def test_spaced_convolution_is_a_dilated_one(frames, spacing):
    torch.manual_seed(frames)
    spaced = SpacedConv1d(6, 7, spacing)
    dilated = nn.Conv1d(6, 6, 7, padding=3 * spacing, dilation=spacing, groups=6)
    dilated.load_state_dict(spaced.state_dict())  # the same weights: old checkpoints load
    x = torch.randn(3, 6, frames)
    torch.testing.assert_close(spaced(x), dilated(x))
    torch.testing.assert_close(torch.jit.script(spaced)(x), dilated(x))


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
