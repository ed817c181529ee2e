"""Datasets as gzip-compressed pickles of plain arrays (`.pkl.gz`), loaded without trusting them."""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

from htr.atomic import atomic_path
from htr.errors import DataError, UnsafePickleError
from training.data.lines import LineSample

log = logging.getLogger(__name__)

_PROTOCOL = 4  # readable by every Python 3 this project supports; numpy pickles it in-band
_LAYOUT = ("image", "text", "doc")
_PLAIN = (str, bytes, int, float, complex, bool, type(None), np.generic, np.dtype)


def _refuse(what: str) -> UnsafePickleError:
    """Build the error for a global or value the loader will not create."""
    return UnsafePickleError(
        f"refused to unpickle {what}: the file is not a plain-data dataset (only numpy arrays of "
        f"non-object dtype, tuples, lists, dicts, str and numbers are allowed) and must not be "
        f"trusted; re-create it with save_pkl_gz from a trusted source"
    )


def _plain_dtype(dt: object) -> np.dtype:
    """Turn a dtype spec into a dtype, refusing object dtypes (they embed arbitrary pickles)."""
    dtype = dt if isinstance(dt, np.dtype) else np.dtype(dt)  # type: ignore[call-overload]
    if dtype.hasobject:
        raise _refuse(f"an array of object dtype {dtype!r}")
    return dtype


def _safe_dtype(*args: object) -> np.dtype:
    """numpy.dtype(...) as numpy pickles call it, minus object dtypes."""
    return _plain_dtype(np.dtype(*args))  # type: ignore[call-overload]


def _safe_reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """multiarray._reconstruct restricted to plain ndarrays of non-object dtype."""
    if subtype is not np.ndarray:
        raise _refuse(f"array subtype {subtype!r}")
    return _multiarray._reconstruct(np.ndarray, shape, _plain_dtype(dtype))


def _safe_scalar(dtype: object, *args: object) -> object:
    """multiarray.scalar for non-object dtypes (an object scalar would be an arbitrary object)."""
    return _multiarray.scalar(_plain_dtype(dtype), *args)


def _safe_frombuffer(buf: object, dtype: object, *args: object) -> np.ndarray:
    """numeric._frombuffer (protocol-5 pickles) for non-object dtypes."""
    return _numeric._frombuffer(buf, _plain_dtype(dtype), *args)


def _safe_encode(text: object, encoding: str = "utf-8") -> bytes:
    """_codecs.encode as numpy's protocol-2 pickles use it: str -> latin-1 bytes, nothing else."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise _refuse(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


def _safe_bytes(*args: object) -> bytes:
    """bytes() as protocol-2 pickles of empty buffers use it; bytes(n) would allocate n bytes."""
    if args and not isinstance(args[0], (str, bytes)):
        raise _refuse(f"bytes({type(args[0]).__name__})")
    return bytes(*args)  # type: ignore[arg-type]


# (module, name) -> what find_class hands out; numpy 1.x says numpy.core, numpy 2.x numpy._core,
# Python 2 pickles (the classic mnist.pkl.gz) say __builtin__.
_ALLOWED: dict[tuple[str, str], Callable[..., object] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy", "ndarray"): np.ndarray,  # only accepted as _reconstruct's subtype argument
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_encode,
    ("builtins", "complex"): complex,
    ("__builtin__", "complex"): complex,
    ("builtins", "bytes"): _safe_bytes,
    ("__builtin__", "bytes"): _safe_bytes,
}


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickler whose globals are limited to what numpy needs to rebuild plain arrays."""

    def find_class(self, module: str, name: str) -> object:
        """Return an allow-listed (wrapped) callable, or refuse with the global's name."""
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _refuse(f"global {module}.{name}") from None


def _first_unplain(obj: object) -> str | None:
    """Describe the first value that is not plain containers/scalars/arrays, or None if all are."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:  # pickles can hold shared or self-referencing containers
            continue
        seen.add(id(item))
        if isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (np.ndarray, np.generic)):
            if item.dtype.hasobject:
                return f"a {type(item).__name__} of object dtype {item.dtype!r}"
            if isinstance(item, np.ndarray) and type(item) is not np.ndarray:
                return f"an ndarray subclass {type(item).__qualname__}"
        elif not isinstance(item, _PLAIN):
            return f"a value of type {type(item).__module__}.{type(item).__qualname__}"
    return None


def load_pkl_gz(path: str | os.PathLike[str]) -> object:
    """Load a gzip-compressed pickle that may only contain plain data and numpy arrays."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            # latin1: Python 2 pickles (the classic mnist.pkl.gz) store array bytes as str
            obj = _PlainDataUnpickler(fh, encoding="latin1").load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; check the path or download the dataset") from None
    except Exception as exc:  # any failure inside a corrupt stream is a data problem
        raise DataError(
            f"{path} is not a readable .pkl.gz ({type(exc).__name__}: {exc}); the file is "
            f"truncated or corrupt: delete it and download or re-create it"
        ) from exc
    problem = _first_unplain(obj)  # e.g. np.ndarray(..., dtype=object) called directly
    if problem is not None:
        raise UnsafePickleError(f"{path}: {_refuse(problem)}")
    return obj


def save_pkl_gz(obj: object, path: str | os.PathLike[str]) -> None:
    """Write plain data (containers, str, numbers, non-object arrays) as .pkl.gz, atomically."""
    path = Path(path)
    problem = _first_unplain(obj)
    if problem is not None:
        raise DataError(
            f"cannot save {problem} to {path}: only nested tuples/lists/dicts of str, int, float, "
            f"bool, None and numpy arrays of non-object dtype are allowed; convert it first"
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        # mtime=0: identical data gives identical bytes (and checksums)
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            pickle.dump(obj, gz, protocol=_PROTOCOL)
    log.info("wrote %s (%d bytes)", path, path.stat().st_size)


def _lines_layout_error(path: Path, problem: str) -> DataError:
    """Build the error for a .pkl.gz that is not in the line-dataset layout."""
    return DataError(
        f"{path} is not a line dataset: {problem}; expected a dict with 'images' (list of (H, W) "
        f"uint8 arrays), 'texts' (list of str) and optionally 'docs' (list of str), as "
        f"written by write_pkl_gz_lines"
    )


def read_pkl_gz_lines(path: str | os.PathLike[str]) -> list[LineSample]:
    """Read a line dataset {'images', 'texts', optional 'docs'} from .pkl.gz into LineSamples."""
    path = Path(path)
    data = load_pkl_gz(path)
    if not isinstance(data, dict) or "images" not in data or "texts" not in data:
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise _lines_layout_error(path, f"found {found}")
    images, texts = list(data["images"]), list(data["texts"])
    docs = list(data.get("docs") or [""] * len(images))
    if not len(images) == len(texts) == len(docs):
        counts = f"{len(images)} images, {len(texts)} texts, {len(docs)} docs"
        raise _lines_layout_error(path, f"lengths differ ({counts})")
    samples = []
    for i, (image, text, doc) in enumerate(zip(images, texts, docs, strict=True)):
        if not (isinstance(image, np.ndarray) and isinstance(text, str) and isinstance(doc, str)):
            got = ", ".join(
                f"{type(v).__name__} {k}" for k, v in zip(_LAYOUT, (image, text, doc), strict=True)
            )
            raise _lines_layout_error(path, f"sample {i} has {got}")
        try:
            samples.append(LineSample(image=image, text=text, doc=doc))
        except DataError as exc:
            raise DataError(f"{path}, sample {i}: {exc}") from None
    return samples


def write_pkl_gz_lines(samples: list[LineSample], path: str | os.PathLike[str]) -> None:
    """Write LineSamples as a line dataset {'images', 'texts', 'docs'} .pkl.gz (meta is dropped)."""
    data = {
        "images": [np.ascontiguousarray(s.image, dtype=np.uint8) for s in samples],
        "texts": [s.text for s in samples],
        "docs": [s.doc or "" for s in samples],
    }
    save_pkl_gz(data, path)
