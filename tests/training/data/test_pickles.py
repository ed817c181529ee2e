"""load_pkl_gz/save_pkl_gz: plain-data roundtrips, line layout, and refusal of unsafe pickles."""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import secrets
import subprocess
from pathlib import Path

import numpy as np
import pytest

from htr.errors import DataError, UnsafePickleError
from training.data.lines import LineSample
from training.data.pickles import load_pkl_gz, read_pkl_gz_lines, save_pkl_gz, write_pkl_gz_lines


def _gz_pickle(obj: object, path: Path, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    with gzip.open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)
    return path


def _mnist_like() -> tuple:
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        images = rng.random((n, 784), dtype=np.float32)
        return images, rng.integers(0, 10, n).astype(np.int64)

    return split(20), split(5), split(5)


def _assert_same(a: object, b: object) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert a == b


def test_mnist_like_roundtrip(tmp_path: Path) -> None:
    data = _mnist_like()
    path = tmp_path / "sub" / "mnist.pkl.gz"
    save_pkl_gz(data, path)
    _assert_same(data, load_pkl_gz(path))
    assert [p.name for p in path.parent.iterdir()] == ["mnist.pkl.gz"]  # no temp file left


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_loads_plain_pickles_of_any_protocol(tmp_path: Path, protocol: int) -> None:
    data = {
        "u8": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "empty": np.zeros((2, 0), np.float32),
        "strided": np.arange(6.0)[::2],
        "text": np.array(["ab", "c"]),
        "bytes": np.array([b"ab"]),
        "record": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
        "scalars": (np.float64(1.5), np.int64(3), 2 + 1j, None, True, "é", b"raw"),
    }
    _assert_same(
        list(data.values()),
        list(load_pkl_gz(_gz_pickle(data, tmp_path / "d.pkl.gz", protocol)).values()),
    )


def test_loads_numpy_1x_global_names(tmp_path: Path) -> None:
    # files written by numpy 1.x (e.g. the classic mnist.pkl.gz) name numpy.core, not numpy._core
    raw = pickle.dumps(_mnist_like(), protocol=2)
    raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path = tmp_path / "old.pkl.gz"
    path.write_bytes(gzip.compress(raw))
    _assert_same(_mnist_like(), load_pkl_gz(path))


def test_lines_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    samples = [
        LineSample(rng.integers(0, 256, (32, w), dtype=np.uint8), text, doc)
        for w, text, doc in [(100, "hello", "page-1"), (57, "wörld", ""), (80, "", "page-2")]
    ]
    path = tmp_path / "lines.pkl.gz"
    write_pkl_gz_lines(samples, path)
    loaded = read_pkl_gz_lines(path)
    assert [(s.text, s.doc) for s in loaded] == [(s.text, s.doc) for s in samples]
    for a, b in zip(samples, loaded, strict=True):
        assert b.image.dtype == np.uint8 and np.array_equal(a.image, b.image)


def test_lines_without_docs(tmp_path: Path) -> None:
    path = tmp_path / "lines.pkl.gz"
    save_pkl_gz({"images": [np.zeros((4, 5), np.uint8)], "texts": ["a"]}, path)
    (sample,) = read_pkl_gz_lines(path)
    assert sample.text == "a" and sample.doc == ""


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_mnist_like(), "not a line dataset"),
        ({"images": [np.zeros((4, 5), np.uint8)], "texts": []}, "lengths differ"),
        ({"images": [np.zeros((4, 5), np.float32)], "texts": ["a"]}, "sample 0.*uint8"),
        (
            {"images": [np.zeros((4, 5), np.uint8)], "texts": [3]},
            "sample 0 has ndarray image, int text",
        ),
    ],
)
def test_lines_bad_layout(tmp_path: Path, data: object, match: str) -> None:
    path = tmp_path / "bad.pkl.gz"
    save_pkl_gz(data, path)
    with pytest.raises(DataError, match=match):
        read_pkl_gz_lines(path)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_side_effect(tmp_path: Path) -> None:
    marker = Path(f"/tmp/pwned-{secrets.token_hex(8)}")
    path = _gz_pickle(([np.zeros(3)], _Evil(marker)), tmp_path / "evil.pkl.gz")
    try:
        with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system.*must not be trusted"):
            load_pkl_gz(path)
        assert not marker.exists()
    finally:
        marker.unlink(missing_ok=True)


class _Reducer:
    def __init__(self, func: object, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return (self.func, self.args)


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (_Reducer(eval, ("1+1",)), "builtins.eval"),
        (_Reducer(subprocess.Popen, (["true"],)), "subprocess.Popen"),
        (functools.partial(print, "x"), "functools.partial"),
        (_Reducer(np.load, ("x.npy",)), "numpy.load"),
        (_Reducer(__import__("codecs").encode, ("x", "rot13")), "'rot13'"),
        (_Reducer(np.ndarray, ((2,), "O")), "object dtype"),
    ],
)
def test_other_unsafe_globals_are_refused(tmp_path: Path, payload: object, refused: str) -> None:
    path = _gz_pickle(payload, tmp_path / "evil.pkl.gz")
    with pytest.raises(UnsafePickleError, match=refused):
        load_pkl_gz(path)


@pytest.mark.parametrize(
    "array",
    [np.array([1, "a"], dtype=object), np.zeros(2, dtype=[("o", "O")]), np.array([None])],
)
@pytest.mark.parametrize("protocol", [2, 5])
def test_object_arrays_are_refused(tmp_path: Path, array: np.ndarray, protocol: int) -> None:
    path = _gz_pickle({"x": array}, tmp_path / "obj.pkl.gz", protocol)
    with pytest.raises(UnsafePickleError, match="object dtype"):
        load_pkl_gz(path)
    with pytest.raises(DataError, match="object dtype"):
        save_pkl_gz({"x": array}, tmp_path / "out.pkl.gz")
    assert not (tmp_path / "out.pkl.gz").exists()


def test_save_refuses_non_plain_objects(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="PosixPath|WindowsPath"):
        save_pkl_gz([tmp_path], tmp_path / "out.pkl.gz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [
        b"definitely not gzip",
        gzip.compress(pickle.dumps(np.zeros(1000), protocol=4))[:60],  # truncated gzip
        gzip.compress(pickle.dumps(np.zeros(1000), protocol=4)[:50]),  # truncated pickle
    ],
)
def test_corrupt_file_raises_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pkl.gz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"bad\.pkl\.gz.*truncated or corrupt") as info:
        load_pkl_gz(path)
    assert not isinstance(info.value, UnsafePickleError)


def test_missing_file_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_pkl_gz(tmp_path / "nope.pkl.gz")
