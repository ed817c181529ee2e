"""The recognizer network: a convolutional front end, a sequence model, CTC logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from htr.errors import ConfigError

SEQUENCE_MODELS = ("conv", "transformer")
STRIDE = 4  # input pixels per CTC frame: the CNN halves the width twice
DROPOUT_MODES = ("element", "channel")


@dataclass
class ModelConfig:
    """Size and shape of the network."""

    height: int = 40  # input height in pixels (must match data.height)
    # Defaults: a narrow CNN with a 1-D convolutional sequence model, which leaves the CTC
    # plateau soonest on CPU (why: experiments/ablation.md).
    channels: tuple[int, ...] = (16, 32, 64, 96)  # conv widths; the first two halve H and W
    # 3x3 convolutions per width above (empty: one each). The 2-D convolutions are a small
    # share of a CPU training step, so depth here is cheap (why: experiments/training-runs.md,
    # "A deeper, wider CNN front end").
    depth: tuple[int, ...] = ()
    sequence: str = "conv"  # conv (CPU-cheap context) | transformer (whole-line attention)
    hidden: int = 256  # width of the sequence model
    layers: int = 3  # sequence-model layers (conv: two residual blocks per layer)
    dropout: float = 0.15
    # dropout of the conv blocks and the head (the Transformer keeps its own)
    # element: one random draw per activation (nn.Dropout); channel: one per channel and line
    # (nn.Dropout1d), far cheaper on CPU but no better a regulariser, so the default stays
    # element (why: experiments/training-runs.md, "Channel dropout in the `full` preset")
    dropout_mode: str = "element"
    # The exported file's preprocessing (recognizer.preprocess.fit_height), which the data
    # follows: crop each line to the box around its ink before scaling it to `height`, so
    # the ink gets more rows at the same input height (why: experiments/training-runs.md,
    # "Cropped lines and more Hooker"; `python -m experiments.crop`).
    crop: bool = False
    x_scale: float = 1.0  # width factor after scaling to the height: < 1 means fewer frames

    def __post_init__(self) -> None:
        if self.sequence not in SEQUENCE_MODELS:
            raise ConfigError(f"model.sequence={self.sequence!r}; choose from {SEQUENCE_MODELS}")
        if self.dropout_mode not in DROPOUT_MODES:
            raise ConfigError(
                f"model.dropout_mode={self.dropout_mode!r}; choose from {DROPOUT_MODES}"
            )
        if self.height % 8 or self.height < 16:
            raise ConfigError(f"model.height={self.height}; use a multiple of 8, at least 16")
        if len(self.channels) < 2:
            raise ConfigError(f"model.channels={self.channels}; give at least two conv widths")
        self.channels = tuple(int(c) for c in self.channels)
        self.depth = tuple(int(d) for d in self.depth)
        if self.depth and (len(self.depth) != len(self.channels) or min(self.depth) < 1):
            raise ConfigError(
                f"model.depth={self.depth}; give one count >= 1 per conv width "
                f"({len(self.channels)} for model.channels={self.channels}), or () for one each"
            )
        if not 0.25 <= self.x_scale <= 4.0:
            raise ConfigError(f"model.x_scale={self.x_scale}; use a factor from 0.25 to 4")

    @property
    def stride(self) -> int:
        """Input pixels per CTC frame."""
        return STRIDE


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _dropout(p: float, mode: str) -> nn.Module:
    """Dropout for (B, D, T) features: per activation, or whole channels of a line."""
    return nn.Dropout1d(p) if mode == "channel" else nn.Dropout(p)


class ConvSequence(nn.Module):
    """Stacked 1-D depthwise-separable convolutions with residuals: the cheapest context."""

    def __init__(self, dim: int, layers: int, dropout: float, mode: str = "element") -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(dim, dim, 7, padding=3, groups=dim),
                nn.BatchNorm1d(dim),
                nn.Conv1d(dim, dim, 1),
                nn.GELU(),
                _dropout(dropout, mode),
            )
            for _ in range(2 * layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        # one copy to (B, D, T) here, not one inside each block's convolution
        y = x.transpose(1, 2).contiguous()
        for block in self.blocks:
            y = y + block(y)
        return y.transpose(1, 2)


class Recognizer(nn.Module):
    """Line image (B, 1, H, W) with ink 1 on paper 0 -> CTC log-probabilities (T, B, C)."""

    def __init__(self, config: ModelConfig, num_classes: int) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        depth = config.depth or (1,) * len(ch)
        layers: list[nn.Module] = []
        cin = 1
        for i, cout in enumerate(ch):
            for j in range(depth[i]):
                layers.append(_conv(cin if j == 0 else cout, cout))
            # Halve H and W twice (stride 4 along the line), then only H: time steps stay fine.
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            elif i < len(ch) - 1:
                layers.append(nn.MaxPool2d((2, 1)))
            cin = cout
        self.cnn = nn.Sequential(*layers)
        feat_h = config.height // 4 // 2 ** max(0, len(ch) - 3)
        self.project = nn.Linear(ch[-1] * feat_h, config.hidden)
        self.sequence = self._sequence(config)
        self.dropout = _dropout(config.dropout, config.dropout_mode)
        self.head = nn.Linear(config.hidden, num_classes)

    @staticmethod
    def _sequence(c: ModelConfig) -> nn.Module:
        if c.sequence == "transformer":
            layer = nn.TransformerEncoderLayer(
                c.hidden, nhead=4, dim_feedforward=2 * c.hidden, dropout=c.dropout, batch_first=True
            )
            return nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        return ConvSequence(c.hidden, c.layers, c.dropout, c.dropout_mode)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        f = self.cnn(images)  # (B, C, H', T)
        b, c, h, t = f.shape
        f = f.permute(0, 3, 1, 2).reshape(b, t, c * h)  # (B, T, C*H')
        x = self.project(f)  # (B, T, D)
        x = self.sequence(x)
        if self.training:  # serving skips the two transposes of an identity
            x = self.dropout(x.transpose(1, 2)).transpose(1, 2)  # dropout sees (B, D, T)
        logits = self.head(x).float()  # CTC wants float32 even under bf16
        return logits.log_softmax(-1).transpose(0, 1)  # (T, B, C)


def output_lengths(widths: torch.Tensor, stride: int) -> torch.Tensor:
    """Time steps the network produces for input widths (floor division by the stride)."""
    return torch.div(widths, stride, rounding_mode="floor").clamp(min=1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
