"""Run a pipeline stage as its own process, the same way on every backend.

A stage is always invoked through its CLI (``adagrpo <stage> ...``), so the subprocess runner
used by the embedded run and the container runners used by compose and Kubernetes execute the
exact same entry point; only the launcher differs.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from components.core.config import RunnerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageCall:
    stage: str
    args: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        return [self.stage, *self.args]


class StageFailed(RuntimeError):
    """A stage exited non-zero; the message carries its last output lines."""


class StageRunner(Protocol):
    def run(self, call: StageCall) -> None: ...


class SubprocessRunner:
    """Runs ``python -m components.cli`` and streams its output into the task log."""

    tail_lines = 40

    def __init__(self, python: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.python = python or sys.executable
        self.env = dict(env) if env is not None else None

    def run(self, call: StageCall) -> None:
        command = [self.python, "-m", "components.cli", *call.argv()]
        log.info("running stage: %s", " ".join(command))
        tail: deque[str] = deque(maxlen=self.tail_lines)
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip())
                log.info("[%s] %s", call.stage, line.rstrip())
        if process.returncode != 0:
            raise StageFailed(
                f"stage {call.stage!r} exited with {process.returncode}:\n" + "\n".join(tail)
            )


def runner_for(config: RunnerConfig) -> StageRunner:
    if config.kind == "subprocess":
        return SubprocessRunner(config.python)
    raise ValueError(f"unknown runner kind {config.kind!r}")
