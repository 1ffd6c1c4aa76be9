"""Run a pipeline stage as its own process, the same way on every backend.

A stage is always invoked through its CLI (``adagrpo <stage> ...``), so the subprocess runner
used by the embedded run, the container runner used by compose and the pod runner used in
production (``kubernetes_runner``) execute the exact same entry point; only the launcher
differs. Each stage may have its own runner (``runner.stages``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from components.core.config import ENV_PREFIX, PipelineConfig
from components.core.errors import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger(__name__)

# Lines of a failed stage's output its error message carries.
TAIL_LINES = 40


@dataclass(frozen=True)
class StageCall:
    stage: str
    args: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        return [self.stage, *self.args]


class StageFailed(RuntimeError):
    """A stage exited non-zero; the message carries its last output lines."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StageRejectedInput(StageFailed):
    """A stage refused its input or configuration (exit 2): retrying cannot help."""


class StageRunner(Protocol):
    def run(self, call: StageCall) -> None: ...


def relay_output(stage: str, lines: Iterable[str]) -> deque[str]:
    """Log every line of a stage's output into the task log; return the last ones."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    for line in lines:
        text = line.rstrip()
        tail.append(text)
        log.info("[%s] %s", stage, text)
    return tail


def fail_unless_zero(stage: str, exit_code: int, tail: Iterable[str]) -> None:
    if exit_code != 0:
        failure = StageRejectedInput if exit_code == EXIT_BAD_INPUT else StageFailed
        message = f"stage {stage!r} exited with {exit_code}:\n" + "\n".join(tail)
        raise failure(message, exit_code)


class SubprocessRunner:
    """Runs ``python -m components.cli`` beside the Airflow worker."""

    def __init__(self, python: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.python = python or sys.executable
        self.env = dict(env) if env is not None else None

    def run(self, call: StageCall) -> None:
        command = [self.python, "-m", "components.cli", *call.argv()]
        log.info("running stage: %s", " ".join(command))
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
        ) as process:
            assert process.stdout is not None
            tail = relay_output(call.stage, process.stdout)
        fail_unless_zero(call.stage, process.returncode, tail)


def config_environment(config: PipelineConfig) -> dict[str, str]:
    """The effective configuration as ``ADAGRPO__SECTION`` variables (JSON is YAML), so that a
    container needs no config file and sees exactly what the task resolved."""
    return {
        f"{ENV_PREFIX}{section.upper()}": json.dumps(values)
        for section, values in config.model_dump(mode="json").items()
    }


def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Whole lines out of a byte stream whose chunks end anywhere."""
    pending = ""
    for chunk in chunks:
        pending += chunk.decode("utf-8", errors="replace")
        *lines, pending = pending.split("\n")
        yield from lines
    if pending:
        yield pending


class DockerRunner:
    """Runs the stage in a container of its image, on the engine ``DOCKER_HOST`` names (the
    local socket by default), and removes the container whatever happens."""

    def __init__(
        self,
        config: PipelineConfig,
        client: DockerClient | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.environ = os.environ if environ is None else environ

    def container_spec(self, call: StageCall) -> dict[str, Any]:
        """The keyword arguments of ``containers.run`` for ``call``."""
        from docker.types import DeviceRequest

        settings = self.config.runner.docker
        passed = {name: self.environ[name] for name in settings.environment if name in self.environ}
        spec: dict[str, Any] = {
            "image": self.config.runner.image_for(call.stage),
            "command": call.argv(),
            "environment": {**passed, **config_environment(self.config)},
            "volumes": {
                source: {"bind": target, "mode": "rw"}
                for source, target in settings.volumes.items()
            },
            "labels": {"org.adagrpo.stage": call.stage},
            "detach": True,
        }
        if settings.network is not None:
            spec["network"] = settings.network
        if call.stage in settings.gpu_stages:
            spec["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return spec

    def run(self, call: StageCall) -> None:
        import docker

        client = self.client or docker.from_env()
        spec = self.container_spec(call)
        log.info("running stage in %s: %s", spec["image"], " ".join(call.argv()))
        container = client.containers.run(**spec)
        try:
            tail = relay_output(call.stage, decoded_lines(container.logs(stream=True, follow=True)))
            exit_code = int(container.wait()["StatusCode"])
        finally:
            container.remove(force=True)
        fail_unless_zero(call.stage, exit_code, tail)


def runner_for(config: PipelineConfig, stage: str) -> StageRunner:
    """The runner configured for ``stage``."""
    kind = config.runner.kind_for(stage)
    if kind == "docker":
        return DockerRunner(config)
    if kind == "kubernetes":
        from components.orchestration.kubernetes_runner import KubernetesRunner

        return KubernetesRunner(config)
    return SubprocessRunner(config.runner.python)
