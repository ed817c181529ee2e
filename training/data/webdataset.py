"""WebDataset tar shards of text lines: KEY.jpg|png + KEY.txt + KEY.json, streamed in order."""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

from htr.atomic import atomic_path
from htr.errors import DataError
from training.data.lines import LineSample

log = logging.getLogger(__name__)

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
_LINE_SUFFIX = re.compile(r"[_-]l?\d+$")  # "page_l001" -> "page": the line number of a key


def to_grey(img: Image.Image) -> np.ndarray:
    """Greyscale (H, W) uint8 array of a PIL image; transparency is flattened onto white paper."""
    if img.mode.startswith("I;16"):
        # 16-bit scans: PIL's convert("L") would clip, so scale 0..65535 down to 0..255
        return (np.asarray(img, dtype=np.float32) / 257.0).round().astype(np.uint8)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # transparent pixels have arbitrary colour (often black); the paper is white
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("L"), dtype=np.uint8).copy()


def decode_grey(source: bytes | Path, where: str) -> np.ndarray:
    """Decode an image (bytes or file) to greyscale uint8; DataError naming `where` if unusable."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            img.load()
            return to_grey(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"{where}: cannot decode image ({exc}); replace it with a valid JPEG/PNG/WebP/TIFF "
            "or drop the sample"
        ) from exc


def _doc_of(key: str, meta: dict) -> str:
    """Document of a sample: meta group, else meta page, else the key's folder or prefix."""
    for field in ("group", "page"):
        if meta.get(field):
            return str(meta[field])
    if "/" in key:
        return key.rpartition("/")[0]
    return _LINE_SUFFIX.sub("", key) or key


def _pick(parts: dict[str, bytes], exts: tuple[str, ...]) -> str | None:
    """The member extension to use for a type: exact first, else like 'line.png' (by last part)."""
    exact = [ext for ext in exts if ext in parts]
    dotted = sorted(ext for ext in parts if ext.rpartition(".")[2] in exts)
    return (exact + dotted)[0] if exact or dotted else None


def _build(shard: str, key: str, parts: dict[str, bytes]) -> LineSample:
    """Turn the members of one key into a LineSample; DataError if a part is missing or bad."""
    image_ext = _pick(parts, IMAGE_EXTS)
    text_ext = _pick(parts, ("txt",))
    if image_ext is None:
        raise DataError(
            f"{shard}: sample {key!r} has no image (members: {sorted(parts)}); expected "
            f"{key}.jpg/.png/.webp beside {key}.txt, adjacent in the tar"
        )
    if text_ext is None:
        raise DataError(
            f"{shard}: sample {key!r} has no transcription (members: {sorted(parts)}); expected "
            f"{key}.txt beside {key}.{image_ext}, adjacent in the tar"
        )
    try:
        text = parts[text_ext].decode("utf-8").removeprefix("\ufeff").rstrip()
        meta = json.loads(parts["json"]) if "json" in parts else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{shard}: sample {key!r} has unreadable text or JSON ({exc}); "
            "write KEY.txt and KEY.json as UTF-8"
        ) from exc
    if not isinstance(meta, dict):
        raise DataError(
            f"{shard}: sample {key!r}: {key}.json holds {type(meta).__name__}, "
            "expected a JSON object"
        )
    if not text:
        raise DataError(
            f"{shard}: sample {key!r} has an empty transcription; transcribe it or "
            "drop it from the shard"
        )
    image = decode_grey(parts[image_ext], f"{shard}: sample {key!r} ({key}.{image_ext})")
    meta["key"] = key  # the shard's key is the truth; write_shard reuses it
    return LineSample(image=image, text=text, doc=_doc_of(key, meta), meta=meta)


def _groups(shard: str, stream: IO[bytes]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Yield (key, {ext: bytes}) for each run of adjacent members sharing a key, in tar order."""
    from webdataset.tariterators import group_by_keys, tar_file_expander

    # webdataset keys end at the basename's first dot and skip dot-files such as macOS ._*
    source = [{"url": shard, "stream": stream}]
    members = tar_file_expander(source, rename_files=lambda name: name.removeprefix("./"))
    try:
        for sample in group_by_keys(members):
            yield sample["__key__"], {k: v for k, v in sample.items() if not k.startswith("__")}
    except ValueError as exc:  # group_by_keys' error for an extension seen twice in one key
        member, duplicate, _ = str(exc.args[0]).partition(": duplicate file name")
        if not duplicate:
            raise
        raise DataError(
            f"{shard}: member {member!r} appears twice; keys must be unique within a shard"
        ) from exc


def _reason(exc: Exception) -> object:
    """An error's own message, without the stream and URL that webdataset appends to its args."""
    return exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else exc


def read_shard(path: Path | str | IO[bytes], *, strict: bool = True) -> Iterator[LineSample]:
    """Stream the line samples of a tar shard (path, webdataset URL or binary stream) in tar order.

    Paths and URLs (file:, pipe:, http:) open with webdataset's gopen. With strict=False,
    samples lacking image or text, or with a corrupt image, are skipped and counted in one
    warning at the end instead of raising DataError.
    """
    from webdataset import gopen  # lazy: it imports torch, which decode_grey's users skip

    skipped: list[str] = []
    total = 0
    named = isinstance(path, (str, Path))
    shard = str(path) if named else str(getattr(path, "name", "<stream>"))
    try:
        with gopen(shard) if named else nullcontext(path) as stream:
            for key, parts in _groups(shard, stream):
                total += 1
                try:
                    yield _build(shard, key, parts)
                except DataError as exc:
                    if strict:
                        raise
                    skipped.append(key)
                    log.debug("skipping sample: %s", exc)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"{shard}: not a readable tar shard ({_reason(exc)}); re-download or rebuild it"
        ) from exc
    if skipped:
        log.warning(
            "%s: skipped %d of %d samples lacking image/text or with a corrupt image, e.g. %s",
            shard,
            len(skipped),
            total,
            ", ".join(skipped[:5]),
        )


def load_shard(path: Path | str | IO[bytes], *, strict: bool = True) -> list[LineSample]:
    """All line samples of a tar shard, eagerly, in tar order."""
    return list(read_shard(path, strict=strict))


def _member(tf: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    """Add one in-memory file to an open tar."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tf.addfile(info, io.BytesIO(data))


def _sample_key(i: int, sample: LineSample) -> str:
    """The member key of a sample: meta['key'] if given, else its 8-digit index."""
    key = str(sample.meta.get("key") or f"{i:08d}")
    base = key.rpartition("/")[2]
    if not base or "." in base or key.startswith("/") or ".." in key.split("/"):
        raise DataError(
            f"sample {i}: key {key!r} cannot name tar members; use a key without "
            "dots, '..' or a leading '/' in meta['key']"
        )
    return key


def _sample_parts(key: str, sample: LineSample) -> tuple[bytes, bytes, bytes]:
    """PNG, text and JSON bytes of one sample."""
    if not sample.text.strip():
        raise DataError(
            f"sample {key!r} has an empty transcription; read_shard would reject "
            "it, so transcribe or drop it"
        )
    buf = io.BytesIO()
    Image.fromarray(sample.image).save(buf, format="PNG")
    meta = {**sample.meta, "key": key} | ({"group": sample.doc} if sample.doc else {})
    try:
        meta_json = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"sample {key!r}: meta is not JSON-serialisable ({exc}); keep meta to "
            "plain str/int/float/bool/list/dict values"
        ) from exc
    return buf.getvalue(), (sample.text + "\n").encode("utf-8"), meta_json


def write_shard(samples: Iterable[LineSample], path: Path | str) -> int:
    """Write samples to a tar shard as KEY.png + KEY.txt + KEY.json, atomically; return count."""
    path = Path(path)
    keys: set[str] = set()
    mtime = int(time.time())
    # Readers never see a half-written shard: it appears whole or not at all.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        with tarfile.open(fileobj=fh, mode="w") as tf:
            for i, sample in enumerate(samples):
                key = _sample_key(i, sample)
                if key in keys:
                    raise DataError(
                        f"{path}: key {key!r} is used twice; make meta['key'] unique "
                        "or leave it out to number samples"
                    )
                keys.add(key)
                png, txt, meta = _sample_parts(key, sample)
                for ext, data in (("png", png), ("txt", txt), ("json", meta)):
                    _member(tf, f"{key}.{ext}", data, mtime)
    log.info("wrote %d samples to %s", len(keys), path)
    return len(keys)
