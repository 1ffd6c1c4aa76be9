"""The one rule for ids that become paths: experiment ids and run keys name folders and files
under the storage roots, so none may climb out of its folder, start a hidden name or be empty.

Registry versions are positive integers and days are dates; their parsers enforce that. User and
item ids are int64 (``MAX_INT64``) wherever they come in.
"""

from __future__ import annotations

import re

from components.core.errors import BadInput

MAX_LENGTH = 200
MAX_INT64 = 2**63 - 1  # the largest user or item id: what the logs and the models hold
# Letters, digits and the punctuation run keys and experiment ids use; no "/" and no "..".
PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*")


class UnsafeId(BadInput):
    """An id that may not become part of a path; the message names the rule."""


def path_id(kind: str, value: str) -> str:
    """``value`` when it is safe as a file or folder name, else ``UnsafeId`` naming ``kind``."""
    if not value:
        raise UnsafeId(f"the {kind} is empty")
    if len(value) > MAX_LENGTH:
        raise UnsafeId(f"the {kind} is {len(value)} characters long; at most {MAX_LENGTH}")
    if not PATTERN.fullmatch(value) or ".." in value:
        raise UnsafeId(
            f"the {kind} {value!r} may hold only letters, digits and . _ = , + - (no '/', no "
            "'..'), and start with a letter or a digit"
        )
    return value
