"""``adagrpo serve``: the registry's champion (and challenger, in an experiment) over HTTP."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket

from components.core.cli_args import experiment_id, port_number
from components.core.config import PipelineConfig
from components.core.errors import BadInput

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=[common],
        help=__doc__,
        description="Serve top-K recommendations from the model registry: the champion, or "
        "with --experiment the champion (control) and the challenger (treatment) of an A/B "
        "experiment, users assigned by a salted hash. POST /recommend takes "
        '{"user_id": 1, "history": [item ids], "k": 10} or {"requests": [...]}; GET /healthz '
        "(liveness), GET /readyz (readiness, with the reasons when degraded). "
        "Alias moves are picked up without a restart (serving.refresh_s).",
    )
    parser.add_argument("--registry", help="registry root: a folder or s3://bucket/prefix")
    parser.add_argument(
        "--experiment", metavar="ID", type=experiment_id, help="the A/B experiment to serve"
    )
    parser.add_argument("--host", help="listen address (default: serving.host)")
    parser.add_argument(
        "--port", type=port_number, help="listen port, 0 for a free one (default: serving.port)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    import uvicorn  # the web stack: keep --help fast

    from components.serving.service import build_app

    registry = config.registry
    if args.registry:
        registry = registry.model_copy(update={"root": args.registry})
    settings = config.serving
    app = build_app(registry, settings, args.experiment)
    host = args.host or settings.host
    if settings.token is None and not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        log.warning(
            "serving on %s without a bearer token: anyone who reaches it gets recommendations; "
            "put it behind an ingress that authenticates, or set ADAGRPO__SERVING__TOKEN",
            host,
        )
    listener = listen(host, settings.port if args.port is None else args.port)
    print(f"serving on http://{host}:{listener.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, access_log=settings.access_log)).run(sockets=[listener])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (port 0: a free one); a port in use is named."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise BadInput(
            f"cannot listen on {host}:{port} ({reason}): choose another --port (0 picks a free "
            "one) or serving.host"
        ) from None
