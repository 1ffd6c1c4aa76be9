"""Run a command and measure it: wall seconds and the peak resident memory of its whole process
tree (a Spark stage's JVM is a child of the Python process that started it)."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

POLL_S = 0.1


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: int  # the largest sum over the tree seen at one poll
    stdout: str


def measured_run(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to its end, polling its tree's resident memory; raise if it fails."""
    # stdout goes to a file: a pipe nobody reads while polling would fill and stall the run.
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = psutil.Popen(list(command), cwd=cwd, env=env, stdout=output)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process))
            time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        output.seek(0)
        stdout = output.read()
    if process.wait():
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    return Measured(round(seconds, 1), round(peak / 2**20), stdout)


def readers_side_by_side(
    module: str, flags: Sequence[str], readers: Sequence[str], cwd: Path
) -> dict[str, dict[str, Any]]:
    """``python -m MODULE FLAGS --read READER`` for each reader, each in its own process: the
    JSON it prints, with the peak memory of its process."""
    results = {}
    for reader in readers:
        measured = measured_run([sys.executable, "-m", module, *flags, "--read", reader], cwd)
        results[reader] = {**json.loads(measured.stdout), "peak_rss_mib": measured.peak_rss_mib}
    return results


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:  # it exited between poll() and the read
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):  # it exited since the listing
            total += member.memory_info().rss
    return total
