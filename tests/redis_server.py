"""A throwaway Redis server on a free loopback port (``scripts/ensure-redis.sh`` installs it),
holding nothing on disk, for the tests of the Redis online store."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import redis

from tests.network import free_port

START_TIMEOUT_S = 30


@contextmanager
def redis_server() -> Iterator[str]:
    """``host:port`` of a fresh Redis server, stopped on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run scripts/ensure-redis.sh")
    port = free_port()
    flags = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with tempfile.TemporaryFile("w+") as log:  # read only if it fails to start
        process = subprocess.Popen([binary, *flags], stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(redis.Redis(host="127.0.0.1", port=port), process, log)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for(client: redis.Redis, process: subprocess.Popen[bytes], log: IO[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.1)
    log.seek(0)
    raise RuntimeError(f"redis-server did not answer:\n{log.read()}")
