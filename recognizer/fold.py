"""Serving-time rewrite of a trained network that keeps its outputs: batch norm folded away."""

from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

CONVS = (nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
M = TypeVar("M", bound=nn.Module)


def fold_batch_norm(model: M) -> M:
    """An eval-mode copy of `model` in which every batch norm that directly follows a
    convolution in an nn.Sequential is folded into that convolution's weights and bias.

    At inference a batch norm is a per-channel affine map, so the convolution can apply it:
    one pass over the activations fewer per layer (why: experiments/decoding.md, "Speed").
    """
    folded = copy.deepcopy(model).eval()
    for seq in folded.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, norm = seq[i], seq[i + 1]
            if isinstance(conv, CONVS) and isinstance(norm, NORMS):
                seq[i] = fuse_conv_bn_eval(conv, norm)
                seq[i + 1] = nn.Identity()
    return folded


def count_batch_norms(model: nn.Module) -> int:
    """Batch-norm layers left in `model`."""
    return sum(isinstance(m, NORMS) for m in model.modules())
