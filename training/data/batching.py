"""Batches of lines: width-bucketed sampling across mixed sources, and padding collation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from recognizer.preprocess import to_ink

Key = tuple[int, int]  # (part index, item index within the part)


class BucketBatchSampler(Sampler[list[Key]]):
    """Draws lines from parts by weight, sorts each window of batches by width, and shards
    batches across DDP ranks (every rank draws the same sequence, keeps every world-th batch).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float],
        width_of: Callable[[Key], float],
        *,
        batch_size: int,
        lines_per_epoch: int,
        seed: int = 0,
        bucket_factor: int = 50,
        rank: int = 0,
        world_size: int = 1,
        fresh: Sequence[bool] | None = None,
        epoch: int = 0,
    ) -> None:
        w = np.asarray(weights, dtype=np.float64) * (np.asarray(sizes) > 0)
        if w.sum() <= 0:
            raise ValueError(f"no training lines: sizes={list(sizes)} weights={list(weights)}")
        self.p = w / w.sum()
        self.sizes = list(sizes)
        self.fresh = list(fresh or [False] * len(sizes))  # parts with endless new lines
        self.width_of = width_of
        self.batch_size = batch_size
        self.lines_per_epoch = lines_per_epoch
        self.seed, self.bucket_factor = seed, bucket_factor
        self.rank, self.world_size = rank, world_size
        self.epoch = epoch  # advanced on each pass, so every epoch sees other lines

    def __len__(self) -> int:
        return self.lines_per_epoch // self.batch_size // self.world_size

    def _draw(self, rng: np.random.Generator) -> list[Key]:
        n = len(self) * self.batch_size * self.world_size
        parts = rng.choice(len(self.p), size=n, p=self.p)
        keys: list[Key] = []
        for i, part in enumerate(parts.tolist()):
            if self.fresh[part]:  # a generator: never repeat a line across epochs
                keys.append((part, self.epoch * n + i))
            else:
                keys.append((part, int(rng.integers(self.sizes[part]))))
        return keys

    def __iter__(self) -> Iterator[list[Key]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        keys = self._draw(rng)
        self.epoch += 1
        window = self.batch_size * self.bucket_factor
        batches: list[list[Key]] = []
        for start in range(0, len(keys), window):
            chunk = sorted(keys[start : start + window], key=self.width_of)
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        batches = [b for b in batches if len(b) == self.batch_size]
        order = rng.permutation(len(batches))  # long and short batches interleaved
        mine = [batches[j] for j in order][self.rank :: self.world_size]
        yield from mine[: len(self)]


def pack(lines: list[tuple[torch.Tensor, torch.Tensor, str]], pad_to: int = 8) -> dict:
    """Pad ink images (H, w) to the widest (a multiple of `pad_to`) and pack CTC targets.

    Returns images (B, 1, H, W) float32 with ink 1 and paper 0, widths (B,), targets (sum L,),
    target_lengths (B,) and the texts.
    """
    h = lines[0][0].shape[0]
    w = max(img.shape[1] for img, _, _ in lines)
    w = -(-w // pad_to) * pad_to
    images = torch.zeros(len(lines), 1, h, w)
    for i, (img, _, _) in enumerate(lines):
        images[i, 0, :, : img.shape[1]] = img
    return {
        "images": images,
        "widths": torch.tensor([img.shape[1] for img, _, _ in lines]),
        "targets": torch.cat([t for _, t, _ in lines]).long(),
        "target_lengths": torch.tensor([len(t) for _, t, _ in lines]),
        "texts": [text for _, _, text in lines],
    }


def collate(batch: list[tuple[np.ndarray, list[int], str]], pad_to: int = 8) -> dict:
    """A batch of (uint8 line, target, text) as `pack` returns it (ink 1 on paper 0)."""
    return pack(
        [
            (
                to_ink(torch.tensor(img, dtype=torch.float32)),
                torch.tensor(t, dtype=torch.long),
                text,
            )
            for img, t, text in batch
        ],
        pad_to,
    )


def rebucket(batches: list[dict], batch_size: int, pad_to: int = 32) -> list[dict]:
    """Re-form collated batches so each holds lines of similar *actual* width.

    The sampler buckets by an estimate (a synthetic line's width is only known once drawn),
    and padding to the widest line of a badly estimated batch wastes most of a step. Widths
    are padded to a multiple of `pad_to`: fewer distinct shapes let oneDNN reuse its kernels
    (why: experiments/layout.md, "multiple of 32").
    """
    lines = []
    for b in batches:
        ends = b["target_lengths"].cumsum(0).tolist()
        for i, (w, end, n) in enumerate(
            zip(b["widths"].tolist(), ends, b["target_lengths"].tolist(), strict=True)
        ):
            lines.append((b["images"][i, 0, :, :w], b["targets"][end - n : end], b["texts"][i]))
    lines.sort(key=lambda line: line[0].shape[-1])
    return [pack(lines[k : k + batch_size], pad_to) for k in range(0, len(lines), batch_size)]


class Rebucketed:
    """A train loader whose batches are re-formed by actual width, `group` batches at a time."""

    def __init__(
        self, loader: Iterable[dict], group: int, batch_size: int, pad_to: int = 32, seed: int = 0
    ) -> None:
        self.loader = loader
        self.group = group
        self.batch_size = batch_size
        self.pad_to = pad_to
        self.seed = seed
        self._passes = 0

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng([self.seed, self._passes])
        self._passes += 1
        buffer: list[dict] = []
        for batch in self.loader:
            buffer.append(batch)
            if len(buffer) == self.group:
                new = rebucket(buffer, self.batch_size, self.pad_to)
                yield from (new[j] for j in rng.permutation(len(new)))  # mix the widths
                buffer = []
        if buffer:
            yield from rebucket(buffer, self.batch_size, self.pad_to)
