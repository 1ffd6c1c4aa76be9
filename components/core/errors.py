"""Errors by intent, and the exit code each gets, kept free of heavy imports so that the CLI
can catch them. An orchestrator reads the code: 2 is never retried, 75 and 1 are.

- ``BadInput``: input or settings a person must fix; one line naming the fix, exit 2.
- ``TransientError`` (and connection errors, timeouts, a full disk): it may heal by itself;
  one line, exit 75.
- Anything else is a bug: the full traceback, exit 1.

A ``ValueError`` or ``OSError`` raised by a library is not bad input by itself: the code that
knows what it means raises one of these, naming the fix.
"""

from __future__ import annotations

import errno

EXIT_BUG = 1  # the traceback goes to the log; retrying may help if the cause was passing
EXIT_BAD_INPUT = 2  # a person must fix something first: retrying cannot help
EXIT_TRANSIENT = 75  # sysexits' EX_TEMPFAIL: it may heal by itself, so retrying can help


class BadInput(ValueError):
    """Input or settings a person must fix; the message names the problem and the fix."""


class MissingInput(BadInput, FileNotFoundError):
    """An input that is not there: a stage run before the one that publishes it, a wrong path."""


class TransientError(Exception):
    """A failure that may heal by itself (a service down, a race lost to other writers)."""


class DiskFull(TransientError, OSError):
    """No space left on a device; the message names it. Space may be freed (a sweep of
    leftovers, another job ending), so a retry later may succeed."""


class StorageUnavailable(BadInput):
    """The storage root cannot be used at all (credentials, endpoint, bucket); says the fix."""


class StorageUnreachable(StorageUnavailable, TransientError):
    """The storage endpoint does not answer: it may be down for a while."""


def exit_code(error: BaseException) -> int:
    """The exit code of a command that failed with ``error``."""
    if isinstance(error, TransientError | ConnectionError | TimeoutError) or is_disk_full(error):
        return EXIT_TRANSIENT
    if isinstance(error, BadInput):
        return EXIT_BAD_INPUT
    return EXIT_BUG


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
