"""Find and remove what killed writers leave behind: staging areas, swapped-out folders, temp files.

A staging area is named ``_staging/<host>/<pid>-<epoch>-<id>-<purpose>`` (``Storage.staging_key``).
It is a leftover when its owner is gone: on this host, when its process no longer runs; from
another host, which this process cannot ask, when it is older than ``max_age_s``. Live work is
never touched, so sweeping is safe while other stages run.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from components.core.storage import STAGING, TEMP_SUFFIX, TRASH_SUFFIX, LocalStorage, Storage

DEFAULT_MAX_AGE_S = 24 * 3600  # no stage runs a day; older foreign staging is abandoned


@dataclass
class Sweep:
    """What a sweep removed, as keys relative to the storage root."""

    staging: list[str] = field(default_factory=list)
    trash: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {"staging": self.staging, "trash": self.trash, "temp_files": self.temp_files}


def stale_staging(
    storage: Storage, max_age_s: float = DEFAULT_MAX_AGE_S, now: float | None = None
) -> list[str]:
    """Staging areas whose owner is gone (see the module docstring), oldest first."""
    now = time.time() if now is None else now
    here = socket.gethostname()
    stale: list[tuple[int, str]] = []
    for host in storage.list_folders(STAGING):
        for owner in storage.list_folders(f"{STAGING}/{host}"):
            pid, started = _owner(owner)
            if pid is None or started is None:
                continue  # not named by staging_key: not ours to judge
            gone = not _running(pid) if host == here else now - started > max_age_s
            if gone:
                stale.append((started, f"{STAGING}/{host}/{owner}"))
    return [key for _, key in sorted(stale)]


def sweep_staging(storage: Storage, max_age_s: float = DEFAULT_MAX_AGE_S) -> list[str]:
    """Delete the stale staging areas; their keys."""
    removed = stale_staging(storage, max_age_s)
    for key in removed:
        storage.delete_prefix(key)
    return removed


def collect_garbage(storage: Storage, max_age_s: float = DEFAULT_MAX_AGE_S) -> Sweep:
    """Every leftover under the root: stale staging, and on a local root the folders a swap
    moved aside and the temp files of interrupted writes (older than a minute, so that a
    write in progress is left alone)."""
    sweep = Sweep(staging=sweep_staging(storage, max_age_s))
    if isinstance(storage, LocalStorage):
        root = storage.root
        for path in sorted(root.rglob(f".*{TRASH_SUFFIX}")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                sweep.trash.append(_relative(path, root))
        cutoff = time.time() - 60
        for path in sorted(root.rglob(f".*{TEMP_SUFFIX}")):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                sweep.temp_files.append(_relative(path, root))
    return sweep


def _owner(name: str) -> tuple[int | None, int | None]:
    pid, _, rest = name.partition("-")
    started, _, _ = rest.partition("-")
    if not (pid.isdigit() and started.isdigit()):
        return None, None
    return int(pid), int(started)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root))
