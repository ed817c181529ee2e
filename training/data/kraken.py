"""Kraken-style line folders: NAME.png (or .jpg/.tif) beside its transcription NAME.gt.txt.

The transcription of `a/b/NAME.ext` is `a/b/NAME.gt.txt`, as kraken's `ketos train` pairs them
(so `NAME.bin.png` pairs with `NAME.bin.gt.txt`). The document of a line is the folder that
holds it, relative to the root as a POSIX path, or the root folder's own name for lines sitting
directly in the root: kraken folders are usually one per page or document, and splits must never
put one document on both sides. A flat folder is therefore a single document.
"""

from __future__ import annotations

import logging
from pathlib import Path

from htr.errors import DataError
from training.data.lines import LineSample
from training.data.webdataset import decode_grey

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
GT_SUFFIX = ".gt.txt"


def _gt_path(image: Path) -> Path:
    """The transcription file kraken pairs with a line image."""
    return image.with_suffix(GT_SUFFIX)


def _find_images(root: Path) -> list[Path]:
    """Line images under root, recursively, sorted by path."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _doc_of(image: Path, root: Path) -> str:
    """The document of a line: its folder relative to the root, or the root's name."""
    folder = image.parent.relative_to(root).as_posix()
    return root.resolve().name if folder == "." else folder


def _read_text(gt: Path) -> str:
    """The transcription in a .gt.txt file, without BOM and trailing whitespace."""
    try:
        return gt.read_text(encoding="utf-8").removeprefix("\ufeff").rstrip()
    except UnicodeDecodeError as exc:
        raise DataError(f"{gt}: not UTF-8 ({exc}); re-save the transcription as UTF-8") from exc


def _missing_error(root: Path, missing: list[Path]) -> DataError:
    """DataError listing line images that have no transcription."""
    names = ", ".join(p.relative_to(root).as_posix() for p in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return DataError(
        f"{root}: {len(missing)} line image(s) have no transcription: {names}{more}; expected "
        f"NAME{GT_SUFFIX} beside each NAME.png, or pass strict=False to skip them"
    )


def _read_line(image: Path, root: Path) -> LineSample | None:
    """One LineSample; None if its transcription is empty."""
    text = _read_text(_gt_path(image))
    if not text:
        return None
    rel = image.relative_to(root).as_posix()
    pixels = decode_grey(image, str(image))
    meta = {"source": "kraken", "image": rel}
    return LineSample(image=pixels, text=text, doc=_doc_of(image, root), meta=meta)


def _read_lines(root: Path, images: list[Path], strict: bool) -> list[LineSample]:
    """Decode paired lines; empty transcriptions (and, unless strict, bad images) are skipped."""
    samples, empty, broken = [], [], []
    for image in images:
        try:
            sample = _read_line(image, root)
        except DataError:
            if strict:
                raise
            broken.append(image.relative_to(root).as_posix())
            continue
        if sample is None:
            empty.append(image.relative_to(root).as_posix())
        else:
            samples.append(sample)
    for what, names in (("an empty transcription", empty), ("an unreadable image", broken)):
        if names:
            log.warning(
                "%s: skipped %d line(s) with %s, e.g. %s",
                root,
                len(names),
                what,
                ", ".join(names[:5]),
            )
    return samples


def read_kraken_dir(path: Path | str, *, strict: bool = True) -> list[LineSample]:
    """All line samples of a kraken ground-truth folder, recursively, in sorted path order.

    Lines with an empty transcription are skipped with a warning, as kraken does. With
    strict=False, images without a transcription or that cannot be decoded are skipped with a
    warning too instead of raising DataError.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass the folder holding NAME.png + NAME.gt.txt")
    images = _find_images(root)
    if not images:
        raise DataError(
            f"{root}: no line images ({', '.join(IMAGE_SUFFIXES)}) found; point at the folder "
            f"holding NAME.png + NAME{GT_SUFFIX} pairs"
        )
    missing = [p for p in images if not _gt_path(p).is_file()]
    if missing:
        if strict:
            raise _missing_error(root, missing)
        log.warning("%s", _missing_error(root, missing))
        skip = set(missing)
        images = [p for p in images if p not in skip]
    return _read_lines(root, images, strict)
