"""Fetch a dataset file from a local path, file:// or http(s):// URL into a checksummed cache."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from htr.errors import ChecksumError, ConfigError, DataError, DownloadError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_HF_HOST = "huggingface.co"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file, read in chunks so any size fits in memory."""
    import pooch

    return pooch.file_hash(os.fspath(path), alg="sha256")


def _normalise_sha(sha256: str | None) -> str | None:
    """Lower-case and validate an expected digest."""
    if sha256 is None:
        return None
    sha = sha256.strip().lower()
    if not _SHA256_RE.fullmatch(sha):
        raise ConfigError(
            f"sha256 must be 64 hex digits, got {sha256!r}; compute it with `sha256sum FILE` "
            f"or pass None to skip verification"
        )
    return sha


def _redact(url: str) -> str:
    """scheme://host[:port]/path of a URL: userinfo and query may hold tokens, never log them."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _scrub(text: str, url: str) -> str:
    """`text` with the URL's password and query masked, for messages built from exceptions."""
    parts = urlsplit(url)
    for secret in (parts.query, parts.password):
        if secret:
            text = text.replace(secret, "***")
    return text


def _verify(path: Path, sha: str | None, origin: str) -> None:
    """Raise ChecksumError unless the file's SHA-256 equals the expected one."""
    if sha is None:
        return
    actual = sha256_file(path)
    if actual != sha:
        raise ChecksumError(
            f"{path} (from {origin}) has SHA-256 {actual}, expected {sha}; the file is corrupt, "
            f"truncated or a different version: replace it or fix the expected sha256"
        )


def fetch(
    source: str,
    sha256: str | None,
    cache_dir: Path,
    *,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Return a local, verified path for a local path, file:// URL or http(s):// URL."""
    sha = _normalise_sha(sha256)
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(source, sha, Path(cache_dir), progress=progress, timeout=timeout)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DataError(f"file:// URL {source!r} names host {parts.netloc!r}; use file:///PATH")
        path = Path(urllib.request.url2pathname(parts.path))
    elif scheme and len(scheme) > 1:  # one letter is a Windows drive, e.g. C:\data
        raise DataError(
            f"unsupported source scheme {scheme!r} in {_redact(source)}; use a local path, "
            f"file://, http:// or https://"
        )
    else:
        path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; check the source path")
    _verify(path, sha, origin=str(path))
    return path


def _cache_path(url: str, sha: str | None, cache_dir: Path) -> Path:
    """Cache file name: the expected digest, else a hash of the URL, plus the URL's basename."""
    base = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)[-100:].lstrip(".") or "download"
    # the URL key leaves out userinfo so that changing a password keeps the cached file
    keyed = _redact(url) + ("?" + urlsplit(url).query if urlsplit(url).query else "")
    key = sha if sha is not None else hashlib.sha256(keyed.encode()).hexdigest()[:16]
    return cache_dir / f"{key}-{base}"


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's own stderr logger for a while: its messages carry the full URL."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch_http(
    url: str, sha: str | None, cache_dir: Path, *, progress: bool, timeout: float
) -> Path:
    """Download into the cache with pooch, which verifies a temporary file before renaming it."""
    import pooch
    import requests

    final = _cache_path(url, sha, cache_dir)
    headers = {}
    # requests knows userinfo and .netrc but not HF_TOKEN; it drops the header off-host itself
    if urlsplit(url).hostname == _HF_HOST and os.environ.get("HF_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['HF_TOKEN']}"
    http = pooch.HTTPDownloader(
        progressbar=progress and sys.stderr.isatty(),
        chunk_size=_CHUNK,
        timeout=timeout,
        headers=headers,
    )
    downloaded = []

    def download(source: str, output_file: str, pup: object) -> None:
        """Record that pooch had to download (a missing or corrupt cache entry), then do it."""
        downloaded.append(output_file)
        http(source, output_file, pup)

    try:
        with _quiet_pooch():
            pooch.retrieve(url, sha, fname=final.name, path=cache_dir, downloader=download)
    except requests.RequestException as exc:
        raise _download_error(exc, url) from None
    except ValueError as exc:  # pooch's checksum mismatch; it has deleted the temporary file
        got = re.search(r"\bgot ([0-9a-fA-F]{64})\b", str(exc))
        if sha is None or got is None:
            raise
        raise ChecksumError(
            f"{final.name} (from {_redact(url)}) has SHA-256 {got.group(1).lower()}, expected "
            f"{sha}; the download is corrupt, truncated or a different version and was not "
            f"kept: check the URL or fix the expected sha256, then rerun"
        ) from None
    log.info("%s %s -> %s", "downloaded" if downloaded else "cache hit", _redact(url), final)
    return final


def _download_error(exc: requests.RequestException, url: str) -> DownloadError:
    """DownloadError saying what failed and what to do, with no secret from the URL."""
    import requests

    where = _redact(url)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return DownloadError(
            f"GET {where} failed: HTTP {exc.response.status_code} {exc.response.reason}; check "
            f"the URL (and HF_TOKEN for gated/private files on {_HF_HOST}), then rerun"
        )
    detail = _scrub(f"{type(exc).__name__}: {exc}", url)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return DownloadError(
            f"download of {where} was interrupted ({detail}); nothing was kept in the cache: "
            f"rerun to download it again"
        )
    return DownloadError(f"could not reach {where}: {detail}; check the network and rerun")
