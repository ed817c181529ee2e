"""Exception hierarchy: the caller's mistakes (UserError) vs ours (InternalError)."""

from __future__ import annotations


class HTRError(Exception):
    """Base of every error this project raises on purpose."""


class UserError(HTRError, ValueError):
    """The caller gave something wrong; the message says what and how to fix it."""


class ConfigError(UserError):
    """A configuration value is invalid; the message names the key and the valid choices."""


class DataError(UserError):
    """A dataset, file or image could not be used as given."""


class ChecksumError(DataError):
    """A downloaded or local file does not match its expected SHA-256."""


class DownloadError(DataError):
    """A source could not be fetched (network, HTTP status, interrupted transfer)."""


class UnsafePickleError(DataError):
    """A pickle asked to build an object outside the allowed set of plain data types."""


class InternalError(HTRError, RuntimeError):
    """Something went wrong on our side; not the caller's fault."""
