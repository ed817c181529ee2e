"""What the Space has read, by server-side id: a correction names a reading, never an image."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

CAPACITY = 256  # readings kept per process; older ones expire first
MAX_PIXELS = 64_000_000  # and at most this many kept pixels in all (a byte each)
TTL_S = 3600.0  # a correction must come within this long of its reading


class UnknownReading(KeyError):
    """The id names no reading this process still holds."""


@dataclass(frozen=True)
class Reading:
    """One image as it was read, and what the model said of it."""

    image: np.ndarray  # (H, W) uint8 grey, transparency flattened onto white paper
    text: str
    confidence: float
    model: str
    revision: str
    digest: str
    at: float


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey of an L, RGB or RGBA array, transparent pixels as white paper."""
    img = Image.fromarray(image)
    if img.mode in ("RGBA", "LA"):
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return np.asarray(img.convert("L"))


def digest(image: np.ndarray) -> str:
    """SHA-256 of an image's shape, type and pixels: equal digests, equal images."""
    h = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


class Readings:
    """A bounded, expiring, thread-safe map from unguessable ids to readings."""

    def __init__(
        self, capacity: int = CAPACITY, ttl_s: float = TTL_S, max_pixels: int = MAX_PIXELS
    ) -> None:
        self.capacity, self.ttl_s, self.max_pixels = capacity, ttl_s, max_pixels
        self._items: OrderedDict[str, Reading] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, image: np.ndarray, text: str, confidence: float, model: str, rev: str) -> str:
        """Keep `image` (in grey) with its reading; returns the reading's id."""
        reading = Reading(grey(image), text, confidence, model, rev, digest(image), time.time())
        rid = secrets.token_hex(16)
        with self._lock:
            self._items[rid] = reading
            while len(self._items) > self.capacity or self._pixels() > self.max_pixels:
                self._items.popitem(last=False)
        return rid

    def _pixels(self) -> int:
        return sum(r.image.size for r in self._items.values())

    def get(self, rid: str | None) -> Reading:
        """The reading `rid` names; UnknownReading if there is none or it has expired."""
        with self._lock:
            reading = self._items.get(rid or "")
            if reading is not None and time.time() - reading.at > self.ttl_s:
                del self._items[rid or ""]
                reading = None
        if reading is None:
            raise UnknownReading(rid)
        return reading

    def take(self, rid: str | None) -> Reading:
        """Remove and return the reading `rid` names: one correction per reading."""
        reading = self.get(rid)
        with self._lock:
            if self._items.pop(rid or "", None) is None:  # another request took it first
                raise UnknownReading(rid)
        return reading


READINGS = Readings()
