"""The one in-memory form of a text line sample, shared by every reader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from htr.errors import DataError


@dataclass
class LineSample:
    """One text line: greyscale image (H, W) uint8, dark ink on light paper, and its text."""

    image: np.ndarray  # (H, W) uint8
    text: str
    doc: str = ""  # document / page group: splits never put one doc on two sides
    meta: dict = field(default_factory=dict)  # provenance (source, licence, page, ...)

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise DataError(
                f"LineSample.image must be a (H, W) uint8 array, got shape {self.image.shape} "
                f"dtype {self.image.dtype}; convert to greyscale uint8 first"
            )
