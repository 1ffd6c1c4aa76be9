"""The HTTP service: ``/recommend`` (one request, or a batch of them), ``/healthz`` (liveness:
the process answers) and ``/readyz`` (readiness: a champion is loaded; degraded when a version
or the aliases could not be read and the service goes on with what it has).

Every response names the arm and the registry version that produced it, and the experiment it
belongs to, so that the logs of what was shown can be read out per arm (``ab-readout``).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from components.core.config import ServingConfig
from components.core.ids import MAX_INT64
from components.serving.arms import Arms
from components.serving.assignment import arm_of

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


def create_app(arms: Arms, experiment: dict[str, Any] | None, settings: ServingConfig) -> FastAPI:
    app = FastAPI(title="adagrpo serve", description=__doc__)
    inference = threading.Lock()  # one beam search at a time: torch already uses every core
    experiment_id = experiment["id"] if experiment else None

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
                "arms": report}  # fmt: skip
        return JSONResponse(body, status_code=200 if serving else 503)

    @app.post("/recommend")
    def recommend(body: Request | Batch) -> Recommendation | dict[str, list[Recommendation]]:
        requests = body.requests if isinstance(body, Batch) else [body]
        if len(requests) > settings.max_batch:
            raise HTTPException(422, f"at most {settings.max_batch} requests per batch")
        if max(r.k for r in requests) > settings.max_k:
            raise HTTPException(422, f"k is at most {settings.max_k}")
        routed: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            routed.setdefault(arm_for(request.user_id), []).append(index)
        answers: list[Recommendation | None] = [None] * len(requests)
        for arm, indices in routed.items():
            loaded = arms.current(arm)
            if loaded is None:
                raise HTTPException(503, "no champion to serve: register a model first")
            histories = [requests[i].history for i in indices]
            k = max(requests[i].k for i in indices)
            with inference:
                lists = loaded.model.recommend(
                    histories, k, settings.beam_width, loaded.recommendable
                )
            for index, items in zip(indices, lists, strict=True):
                request = requests[index]
                answers[index] = Recommendation(
                    user_id=request.user_id, items=items[: request.k], arm=arm,
                    version=loaded.version, experiment_id=experiment_id,
                )  # fmt: skip
        done = [answer for answer in answers if answer is not None]
        return {"responses": done} if isinstance(body, Batch) else done[0]

    return app
