"""What can go wrong while serving: the caller's mistakes carry an HTTP status and a remedy."""

from __future__ import annotations


class ServingError(Exception):
    """Base of serving errors; `status` is the HTTP status an API answers with."""

    status = 500


class BadRequest(ServingError):
    """Malformed input: bad JSON, a missing field, bad base64, an undecodable image."""

    status = 400


class TooLarge(ServingError):
    """A payload or an image over the limits (decompression bombs included)."""

    status = 413


class ModelUnavailable(ServingError):
    """The model file is missing or broken: our side, not the caller's."""

    status = 500
