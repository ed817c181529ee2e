"""The line finder network: a small fully convolutional net from a page to per-pixel line maps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from htr.errors import ConfigError

MAPS = ("baseline", "region")  # output channels, in this order
MAP_STRIDE = 2  # page pixels (at `FinderConfig.size`) per map pixel


@dataclass
class FinderConfig:
    """Size of the line finder and the page scale it sees."""

    size: int = 1024  # the page's long side is scaled to this before the network
    channels: tuple[int, ...] = (16, 32, 48, 64)  # widths at 1/2, 1/4, 1/8, 1/16 of `size`
    # the deepest level sees this far around each pixel: dilations of its 3x3 convolutions
    dilations: tuple[int, ...] = (1, 2, 4)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.dilations = tuple(int(d) for d in self.dilations)
        if len(self.channels) != 4 or min(self.channels) < 4:
            raise ConfigError(
                f"finder.channels={self.channels}; give four widths (1/2, 1/4, 1/8, 1/16), "
                "each at least 4"
            )
        if not 256 <= self.size <= 4096 or self.size % 16:
            raise ConfigError(f"finder.size={self.size}; use a multiple of 16 from 256 to 4096")


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FinderNet(nn.Module):
    """(B, 1, H, W) ink-positive page, H and W multiples of 16 -> (B, 2, H/2, W/2) logits of
    MAPS: the baseline band and the line region."""

    def __init__(self, config: FinderConfig | None = None) -> None:
        super().__init__()
        c1, c2, c3, c4 = (config or FinderConfig()).channels
        dilations = (config or FinderConfig()).dilations
        self.down1 = nn.Sequential(_conv(1, c1, 2), _conv(c1, c1))  # 1/2
        self.down2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2))  # 1/4
        self.down3 = nn.Sequential(_conv(c2, c3, 2), _conv(c3, c3))  # 1/8
        # 1/16 with dilated convolutions: a line's neighbours and margins are in view
        self.down4 = nn.Sequential(_conv(c3, c4, 2), *[_conv(c4, c4, 1, d) for d in dilations])
        self.up3 = _conv(c4 + c3, c3)
        self.up2 = _conv(c3 + c2, c2)
        self.up1 = _conv(c2 + c1, c1)
        self.head = nn.Conv2d(c1, len(MAPS), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        x4 = self.down4(x3)
        y = self.up3(torch.cat([_up(x4, x3), x3], 1))
        y = self.up2(torch.cat([_up(y, x2), x2], 1))
        y = self.up1(torch.cat([_up(y, x1), x1], 1))
        return self.head(y)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=[like.size(2), like.size(3)], mode="bilinear", align_corners=False)
