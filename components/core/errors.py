"""Errors the CLI reports as one line, kept free of heavy imports so that it can catch them."""

from __future__ import annotations


class StorageUnavailable(RuntimeError):
    """The storage root cannot be used at all (credentials, endpoint, bucket); says the fix."""
