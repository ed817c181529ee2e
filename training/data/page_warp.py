"""A sheet photographed or scanned: bending, skew and perspective applied alike to the pixels and
to the line geometry, then the camera's lighting, blur, noise and compression.

Coordinates are (x, y) pixel coordinates, pixel centres at integers (a pixel's row y spans
y - 0.5 to y + 0.5); the flat sheet and the photo have the same size.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

MESH = 64  # pixels per side of the cells the warp is interpolated over
Bend = tuple[float, float, float, float]  # quadratic, sine amplitude, sine cycles, phase


@dataclass
class PageWarp:
    """Flat sheet -> photo: rows bend (y += (1 + growth * y / H) * g(x)), then a homography."""

    height: int
    width: int
    bend: Bend = (0.0, 0.0, 1.0, 0.0)
    growth: float = 0.0  # the bend grows (or fades) from top to bottom: a sheet lifting
    homography: np.ndarray | None = None  # 3x3, bent sheet -> photo; None: identity

    def _g(self, x: np.ndarray) -> np.ndarray:
        quad, amp, cycles, phase = self.bend
        u = x / self.width - 0.5
        return self.width * (quad * u * u + amp * np.sin(2 * math.pi * cycles * u + phase))

    def points(self, pts: np.ndarray) -> np.ndarray:
        """(N, 2) flat-sheet points -> (N, 2) photo points."""
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        x = pts[:, 0]
        y = pts[:, 1] + (1 + self.growth * pts[:, 1] / self.height) * self._g(x)
        if self.homography is None:
            return np.stack([x, y], 1)
        p = self.homography @ np.stack([x, y, np.ones_like(x)])
        return (p[:2] / p[2]).T

    def source(self, pts: np.ndarray) -> np.ndarray:
        """(N, 2) photo points -> (N, 2) flat-sheet points: the exact inverse of `points`."""
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        x, y = pts[:, 0], pts[:, 1]
        if self.homography is not None:
            p = np.linalg.inv(self.homography) @ np.stack([x, y, np.ones_like(x)])
            x, y = p[0] / p[2], p[1] / p[2]
        g = self._g(x)
        return np.stack([x, (y - g) / (1 + self.growth * g / self.height)], 1)

    def image(self, img: np.ndarray, fill: float) -> np.ndarray:
        """Warp a (H, W) float image of the flat sheet; outside the sheet is `fill` (a table)."""
        h, w = self.height, self.width
        # The warp is smooth: PIL maps each MESH cell to the source quad of its corners, in C,
        # far faster than mapping every pixel. PIL's corners are pixel edges, ours centres.
        ys, xs = np.arange(0, h + MESH, MESH).clip(max=h), np.arange(0, w + MESH, MESH).clip(max=w)
        gx, gy = np.meshgrid(xs, ys)
        src = self.source(np.stack([gx.ravel(), gy.ravel()], 1) - 0.5) + 0.5
        src = src.reshape(len(ys), len(xs), 2)
        mesh = []
        for i in range(len(ys) - 1):
            for j in range(len(xs) - 1):
                if ys[i + 1] > ys[i] and xs[j + 1] > xs[j]:
                    box = (int(xs[j]), int(ys[i]), int(xs[j + 1]), int(ys[i + 1]))
                    quad = (*src[i, j], *src[i + 1, j], *src[i + 1, j + 1], *src[i, j + 1])
                    mesh.append((box, tuple(float(v) for v in quad)))
        out = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F").transform(
            (w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=fill
        )
        return np.asarray(out, dtype=np.float32)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 homography that takes the four `src` points to the four `dst` points."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def random_warp(height: int, width: int, rng: np.random.Generator, photo: bool) -> PageWarp:
    """A sheet's bending and pose: a flat scan turned a little, or a photo with perspective."""
    strength = 1.0 if photo else 0.3
    bend = (
        float(rng.normal(0, 0.04 * strength)),
        float(rng.uniform(0, 0.004 * strength)),
        float(rng.uniform(0.5, 2.0)),
        float(rng.uniform(0, 2 * math.pi)),
    )
    growth = float(rng.uniform(-0.8, 1.0))
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    centre = np.array([width / 2, height / 2])
    angle = math.radians(float(np.clip(rng.normal(0, 0.8 if photo else 0.5), -2.5, 2.5)))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    # a photo shows the sheet a little smaller than the frame, on a table, seen at a slant
    scale = float(rng.uniform(0.86, 0.98)) if photo else 1.0
    dst = (corners - centre) @ rot.T * scale + centre
    if photo:
        dst += rng.uniform(-0.025, 0.025, size=(4, 2)) * max(height, width)
        dst += rng.uniform(-0.02, 0.02, size=2) * np.array([width, height])
    return PageWarp(height, width, bend, growth, homography(corners, dst))


def photograph(img: np.ndarray, rng: np.random.Generator, photo: bool) -> np.ndarray:
    """A float (H, W) image in [0, 255] as a camera (or a scanner) gives it back: uint8."""
    h, w = img.shape
    if photo:
        img = img * _lighting(h, w, rng)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.3, 1.2))))
    arr = np.array(out, dtype=np.float32)
    if rng.random() < 0.6:
        arr += rng.standard_normal(arr.shape, dtype=np.float32) * float(rng.uniform(1, 7))
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=int(rng.integers(40, 92)))
        arr = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    return arr


def _lighting(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth gain field: light falling from one side, a vignette, sometimes a shadow."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w - 0.5, yy / h - 0.5
    theta = rng.uniform(0, 2 * math.pi)
    ramp = u * math.cos(theta) + v * math.sin(theta)  # -0.7 .. 0.7
    gain = 1 - float(rng.uniform(0, 0.4)) * (ramp + 0.7) / 1.4
    gain -= float(rng.uniform(0, 0.35)) * (u * u + v * v)
    if rng.random() < 0.25:  # a hand's or a phone's shadow: a soft-edged dark half-plane
        phi, offset = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.5)
        side = u * math.cos(phi) + v * math.sin(phi) - offset
        gain *= 1 - float(rng.uniform(0.1, 0.35)) / (1 + np.exp(-side * 40))
    return gain.astype(np.float32)
