"""The service assembled from configuration (the registry, the experiment, the arms), and run
inside this process for what needs the real HTTP path without a second one."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from fastapi import FastAPI

from components.core.config import RegistryConfig, ServingConfig
from components.registry.experiments import read_experiment
from components.registry.store import ModelRegistry
from components.serving.app import create_app
from components.serving.arms import Arms


def build_app(
    registry_config: RegistryConfig, settings: ServingConfig, experiment_id: str | None
) -> FastAPI:
    registry = ModelRegistry.existing(registry_config)
    experiment = read_experiment(registry, experiment_id) if experiment_id else None
    followed = (
        {arm: entry["alias"] for arm, entry in experiment["arms"].items()}
        if experiment
        else {"control": "champion"}
    )
    return create_app(Arms(registry, followed, settings.refresh_s), experiment, settings)


@contextlib.contextmanager
def in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port of ``host``; its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the service did not start on {host}")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
