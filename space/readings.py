"""What the Space has read, by server-side id: a correction names a reading, never an image."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

CAPACITY = 256  # readings kept per process; older ones expire first
TTL_S = 3600.0  # a correction must come within this long of its reading


class UnknownReading(KeyError):
    """The id names no reading this process still holds."""


@dataclass(frozen=True)
class Reading:
    """One image as it was read, and what the model said of it."""

    image: np.ndarray
    text: str
    confidence: float
    model: str
    revision: str
    digest: str
    at: float


def digest(image: np.ndarray) -> str:
    """SHA-256 of an image's shape, type and pixels: equal digests, equal images."""
    h = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


class Readings:
    """A bounded, expiring, thread-safe map from unguessable ids to readings."""

    def __init__(self, capacity: int = CAPACITY, ttl_s: float = TTL_S) -> None:
        self.capacity, self.ttl_s = capacity, ttl_s
        self._items: OrderedDict[str, Reading] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, image: np.ndarray, text: str, confidence: float, model: str, rev: str) -> str:
        """Keep a copy of `image` with its reading; returns the reading's id."""
        kept = np.array(image, copy=True)
        reading = Reading(kept, text, confidence, model, rev, digest(kept), time.time())
        rid = secrets.token_hex(16)
        with self._lock:
            self._items[rid] = reading
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return rid

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

    def forget(self, rid: str) -> None:
        """Drop a reading (its correction is saved: one correction per reading)."""
        with self._lock:
            self._items.pop(rid, None)


READINGS = Readings()
