"""Fetch a dataset file from a local path, file:// or http(s):// URL into a checksummed cache."""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from tqdm import tqdm

from htr.errors import ChecksumError, ConfigError, DataError, DownloadError, InternalError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_HF_HOST = "huggingface.co"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file, read in chunks so any size fits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def _fetch_http(
    url: str, sha: str | None, cache_dir: Path, *, progress: bool, timeout: float
) -> Path:
    """Download into the cache (resuming a .part), verify, then move into place atomically."""
    final = _cache_path(url, sha, cache_dir)
    if final.is_file():
        try:
            _verify(final, sha, origin=_redact(url))
            log.info("cache hit %s for %s", final, _redact(url))
            return final
        except ChecksumError as exc:
            log.warning("%s; downloading it again", exc)
            final.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    _download(url, part, progress=progress, timeout=timeout)
    try:
        _verify(part, sha, origin=_redact(url))
    except ChecksumError:
        part.unlink(missing_ok=True)  # a resumed prefix may be the culprit: start clean next time
        raise
    os.replace(part, final)
    _fsync_dir(cache_dir)
    log.info("downloaded %s -> %s", _redact(url), final)
    return final


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _AuthRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Carry Authorization across redirects only while they stay on the same host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """Build the redirected request, re-adding Authorization for same-host hops."""
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        same_host = urlsplit(newurl).hostname == urlsplit(req.full_url).hostname
        if new is not None and auth and same_host:
            new.add_unredirected_header("Authorization", auth)
        return new


def _request(url: str, offset: int) -> urllib.request.Request:
    """GET request with Range for resuming and credentials that never reach the logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    req = urllib.request.Request(clean, headers={"User-Agent": "htr-fetch/1"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    # unredirected: urllib would otherwise forward credentials to whatever host a redirect names
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        basic = base64.b64encode(userinfo.encode()).decode()
        req.add_unredirected_header("Authorization", f"Basic {basic}")
    elif host == _HF_HOST and os.environ.get("HF_TOKEN"):
        req.add_unredirected_header("Authorization", f"Bearer {os.environ['HF_TOKEN']}")
    return req


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    """Open the URL from `offset`; None means 416 with the .part already complete."""
    opener = urllib.request.build_opener(_AuthRedirectHandler)
    try:
        return opener.open(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            total = _content_range_total(exc.headers.get("Content-Range"))
            exc.close()
            if total == offset:
                return None
            raise _RestartFromZero from None
        raise DownloadError(
            f"GET {_redact(url)} failed: HTTP {exc.code} {exc.reason}; check the URL (and "
            f"HF_TOKEN for gated/private files on {_HF_HOST}), then rerun"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"could not reach {_redact(url)}: {reason}; check the network and rerun "
            f"(an existing partial download is resumed)"
        ) from None


class _RestartFromZero(Exception):
    """The server cannot resume the .part (e.g. 416 with a different size): start over."""


def _content_range_total(value: str | None) -> int | None:
    """Total size from a Content-Range header such as 'bytes */1234' or 'bytes 0-9/1234'."""
    match = re.fullmatch(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)\s*", value or "")
    return int(match.group(1)) if match else None


def _content_range_start(value: str | None) -> int | None:
    """First byte position from a Content-Range header such as 'bytes 100-199/200'."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", value or "")
    return int(match.group(1)) if match else None


def _download(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Fill `part` with the whole body, resuming what an earlier run left there."""
    offset = part.stat().st_size if part.is_file() else 0
    try:
        resp = _open(url, offset, timeout)
    except _RestartFromZero:
        log.info("server cannot resume %s from byte %d; restarting", _redact(url), offset)
        part.unlink()
        offset, resp = 0, _open(url, 0, timeout)
    if resp is None:
        log.info("%s already complete (%d bytes)", part, offset)
        return
    if offset and not (
        resp.status == 206 and _content_range_start(resp.headers["Content-Range"]) == offset
    ):
        log.info("server did not resume %s (HTTP %d); restarting", _redact(url), resp.status)
        if resp.status == 206:  # a partial answer for some other range is useless to us
            resp.close()
            resp = _open(url, 0, timeout)
        offset = 0  # a 200 carries the whole body: write it from the start
    elif offset:
        log.info("resuming %s from byte %d", _redact(url), offset)
    if resp is None:  # only a resumed request (offset > 0) can come back "already complete"
        raise InternalError(f"no response for {_redact(url)} from byte 0")
    with resp:
        _stream(resp, url, part, offset, progress=progress)


def _stream(
    resp: http.client.HTTPResponse, url: str, part: Path, offset: int, *, progress: bool
) -> None:
    """Append (or write from zero) the response body to `part`, fsync, and check its length."""
    length = resp.headers.get("Content-Length")
    expected = int(length) if length and length.isdigit() else None
    received = 0
    bar = tqdm(
        total=None if expected is None else offset + expected,
        initial=offset,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=part.name.removesuffix(".part")[-40:],
        disable=True if not progress else None,  # None: only on a tty
    )
    with bar, open(part, "ab" if offset else "wb") as fh:
        try:
            while chunk := resp.read(_CHUNK):
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise _interrupted(url, part, offset + received, detail) from None
        finally:
            fh.flush()
            os.fsync(fh.fileno())
    if expected is not None and received < expected:
        raise _interrupted(url, part, offset + received, f"got {received} of {expected} bytes")


def _interrupted(url: str, part: Path, have: int, detail: str) -> DownloadError:
    """Error for a transfer that stopped early; the .part stays so a rerun resumes."""
    return DownloadError(
        f"download of {_redact(url)} was interrupted ({detail}); {have} bytes kept in {part}: "
        f"rerun to resume"
    )
