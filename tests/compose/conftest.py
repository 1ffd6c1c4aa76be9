"""The compose stack, built offline and brought up once for the compose tests, then removed
with its volumes."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.network import free_port

REPO = Path(__file__).resolve().parents[2]
PROJECT = "adagrpo-test"
COMPOSE_FILES = ("docker-compose.yml", "docker/offline/compose.yml", "tests/compose/tiny.yml")
# Bounds on hung steps, not speed targets: a cold offline build fetches ~1 GB of wheels.
BUILD_TIMEOUT_S = 3600
UP_TIMEOUT_S = 900


@dataclass(frozen=True)
class Stack:
    settings: dict[str, str]  # the stack's .env
    compose: Callable[..., subprocess.CompletedProcess[Any]]  # docker compose ARGS, on it

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['AIRFLOW_PORT']}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['S3_PORT']}"

    def copy_lake(self, target: Path) -> None:
        """The data lake on the stack's volume (``/data/lake``), copied into ``target``."""
        tar = ("run", "--rm", "--no-deps", "--entrypoint", "tar", "pipeline", "-C", "/data/lake")
        archive = self.compose(*tar, "-cf", "-", ".", text=False)
        assert archive.returncode == 0, archive.stderr[-3000:]
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
            files.extractall(target, filter="data")


@pytest.fixture(scope="session")
def offline_images() -> None:
    """Every image built from a local base (docker/offline/build.sh); reused when unchanged."""
    subprocess.run([str(REPO / "docker/offline/build.sh")], check=True, timeout=BUILD_TIMEOUT_S)
    subprocess.run([str(REPO / "scripts/ensure-compose.sh")], check=True, timeout=300)


@pytest.fixture(scope="module")
def stack(offline_images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run([str(REPO / "scripts/compose-env.sh"), str(env_file)], check=True)
    settings = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    settings |= {"AIRFLOW_PORT": str(free_port()), "S3_PORT": str(free_port())}
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))

    command = ["docker", "compose", "--env-file", str(env_file), "--project-name", PROJECT]
    for file in COMPOSE_FILES:
        command += ["--file", file]
    environment = {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT}

    def compose(
        *args: str, timeout: float = 300, text: bool = True
    ) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(
            [*command, *args], cwd=REPO, env=environment, text=text, capture_output=True,
            timeout=timeout,
        )  # fmt: skip

    compose("down", "--volumes", "--remove-orphans")  # what an interrupted run left
    up = compose("up", "--detach", "--wait", timeout=UP_TIMEOUT_S)
    try:
        if up.returncode != 0:
            logs = compose("logs", "--tail", "40").stdout
            pytest.fail(f"the stack did not come up:\n{up.stderr[-3000:]}\n{logs[-6000:]}")
        yield Stack(settings, compose)
    finally:
        if os.environ.get("ADAGRPO_KEEP_STACK") != "1":
            compose("down", "--volumes", "--remove-orphans")
