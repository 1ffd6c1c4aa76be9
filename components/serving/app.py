"""The HTTP service: ``/recommend`` (one request, or a batch of them), ``/healthz`` (liveness:
the process answers) and ``/readyz`` (readiness: a champion is loaded; degraded when a version
or the aliases could not be read and the service goes on with what it has).

Requests are decoded off the event loop, concurrent ones together (``batching.py``); a call
whose cost (users x beams) is above ``serving.max_request_cost`` is refused, and one that finds
the queue full gets 429 with Retry-After.

Every response names the arm and the registry version that produced it, and the experiment it
belongs to, so that the logs of what was shown can be read out per arm (``ab-readout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

import torch
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi import Request as FastAPIRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from components.core.config import ServingConfig
from components.core.ids import MAX_INT64
from components.serving.arms import Arms
from components.serving.assignment import arm_of
from components.serving.batching import Lists, MicroBatcher, QueueFull

# Ids are int64 (what the logs and the models hold) and never booleans.
Id = Annotated[int, Field(strict=True, ge=0, le=MAX_INT64)]


class Request(BaseModel):
    user_id: Id
    history: list[Id] = Field(description="Item ids the user interacted with, oldest first")
    k: int = Field(10, ge=1, strict=True, description="How many items to recommend")


class Batch(BaseModel):
    requests: list[Request] = Field(min_length=1)


class Recommendation(BaseModel):
    user_id: int
    items: list[int]
    arm: str
    version: int
    experiment_id: str | None


class NoModel(Exception):
    """The arm has no model loaded (no champion yet)."""


def create_app(arms: Arms, experiment: dict[str, Any] | None, settings: ServingConfig) -> FastAPI:
    experiment_id = experiment["id"] if experiment else None

    threads = settings.torch_threads or torch.get_num_threads()

    def decode(arm: str, histories: Sequence[Sequence[int]], k: int) -> tuple[Lists, int]:
        """One beam search of ``arm``'s current model (in the decoding thread)."""
        loaded = arms.current(arm)
        if loaded is None:
            raise NoModel(arm)
        torch.set_num_threads(threads if len(histories) >= settings.parallel_users else 1)
        beam = max(settings.beam_width, k)
        return loaded.model.recommend(histories, k, beam, loaded.recommendable), loaded.version

    batcher = MicroBatcher(
        decode,
        settings.batch_users,
        settings.batch_wait_ms / 1000,
        settings.queue_users,
        settings.micro_batching,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        arms.start()
        batcher.start()
        yield
        await batcher.stop()
        arms.stop()

    app = FastAPI(title="adagrpo serve", description=__doc__, lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: FastAPIRequest, error: RequestValidationError) -> JSONResponse:
        """422 naming each field and what is wrong with it; the values themselves are left out
        (a non-finite number in a body would make the answer itself invalid JSON)."""
        detail = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    def arm_for(user_id: int) -> str:
        if experiment is None:
            return "control"
        arm = arm_of(user_id, experiment["salt"], experiment["treatment_share"])
        return arm if arms.current(arm) is not None else "control"

    @app.get("/healthz")
    def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    def ready() -> JSONResponse:
        serving = arms.current("control") is not None
        report = arms.health()
        reasons = [f"{arm}: {entry['error']}" for arm, entry in report.items() if entry["error"]]
        if arms.aliases_error:
            reasons.append(arms.aliases_error)
        if not serving:
            reasons.insert(0, "no champion loaded: nothing can be served")
        status = "ok" if serving and not reasons else ("degraded" if serving else "unavailable")
        body = {"status": status, "reasons": reasons, "experiment_id": experiment_id,
                "arms": report, "queued_users": batcher.queued}  # fmt: skip
        return JSONResponse(body, status_code=200 if serving else 503)

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        """With ``serving.token`` set, the caller must present it as a bearer token."""
        if settings.token is None:
            return
        expected = f"Bearer {settings.token.get_secret_value()}".encode()
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    @app.post("/recommend", response_model=None, dependencies=[Depends(authorized)])
    async def recommend(body: Request | Batch) -> Recommendation | dict[str, list[Recommendation]]:
        requests = body.requests if isinstance(body, Batch) else [body]
        _check_cost(requests, settings)
        routed: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            routed.setdefault(arm_for(request.user_id), []).append(index)
        try:
            answered = await asyncio.gather(*(
                batcher.recommend(
                    arm, [requests[i].history for i in indices],
                    max(requests[i].k for i in indices),
                )
                for arm, indices in routed.items()
            ))  # fmt: skip
        except QueueFull as full:
            raise HTTPException(
                429, str(full), headers={"Retry-After": str(full.retry_after_s)}
            ) from None
        except NoModel:
            raise HTTPException(503, "no champion to serve: register a model first") from None
        answers: list[Recommendation | None] = [None] * len(requests)
        for (arm, indices), (lists, version) in zip(routed.items(), answered, strict=True):
            for index, items in zip(indices, lists, strict=True):
                request = requests[index]
                answers[index] = Recommendation(
                    user_id=request.user_id, items=items[: request.k], arm=arm,
                    version=version, experiment_id=experiment_id,
                )  # fmt: skip
        done = [answer for answer in answers if answer is not None]
        return {"responses": done} if isinstance(body, Batch) else done[0]

    return app


def _check_cost(requests: Sequence[Request], settings: ServingConfig) -> None:
    """Refuse what one call may not ask: too many users, too long a list, too much work."""
    if len(requests) > settings.max_batch:
        raise HTTPException(422, f"at most {settings.max_batch} requests per batch")
    k = max(r.k for r in requests)
    if k > settings.max_k:
        raise HTTPException(422, f"k is at most {settings.max_k}")
    cost = len(requests) * max(settings.beam_width, k)
    if cost > settings.max_request_cost:
        raise HTTPException(
            422,
            f"this call asks for {cost:,} beams (users x max(beam width, k)), above "
            f"serving.max_request_cost {settings.max_request_cost:,}: ask for fewer users or "
            "a smaller k",
        )
