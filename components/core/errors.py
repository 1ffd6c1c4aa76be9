"""Errors the CLI reports as one line, kept free of heavy imports so that it can catch them,
and the exit codes that tell an orchestrator whether a retry can help."""

from __future__ import annotations

EXIT_BAD_INPUT = 2  # a person must fix something first: retrying cannot help
EXIT_TRANSIENT = 75  # sysexits' EX_TEMPFAIL: it may heal by itself, so retrying can help


class TransientError(Exception):
    """A failure that may heal by itself (a service down, a race lost to other writers)."""


class StorageUnavailable(RuntimeError):
    """The storage root cannot be used at all (credentials, endpoint, bucket); says the fix."""


class StorageUnreachable(StorageUnavailable, TransientError):
    """The storage endpoint does not answer: it may be down for a while."""
