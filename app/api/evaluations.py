"""``/admin/evaluations``: start an offline evaluation run, watch it, resume it
(docs/evaluations.md). Admin only, like ``/admin/datasets``: a run replays logged prompts and
spends provider money."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter

from app.api.bodies import body_of
from app.api.security import requires_named_admin
from app.auth.principal import Principal
from app.evaluations.service import EvaluationService
from app.wire.evaluations import RunCreate
from app.wire.response import encoder


def _json(value: object, status: int = 200) -> Response[bytes]:
    return Response(encoder.encode(value), status_code=status, media_type="application/json")


class EvaluationsController(Controller):
    path = "/admin/evaluations"
    tags = ("evaluations",)
    guards = (requires_named_admin,)

    @get("/", summary="The configured evaluations and the latest runs")
    async def list_evaluations(self, evaluations: EvaluationService) -> Response[bytes]:
        return _json(
            {"evaluations": evaluations.configured(), "runs": await evaluations.runs(None)}
        )

    @post(
        "/{name:str}/runs",
        summary="Start a run of the evaluation in the background; answers its id at once",
        status_code=201,
        opt=body_of(RunCreate),
    )
    async def start(
        self, name: str, payload: RunCreate, principal: Principal, evaluations: EvaluationService
    ) -> Response[bytes]:
        return _json(await evaluations.start(name, payload, principal.name), 201)

    @get("/{name:str}/runs", summary="The evaluation's runs, newest first")
    async def list_runs(
        self,
        name: str,
        evaluations: EvaluationService,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=1000)] = 100,
    ) -> Response[bytes]:
        evaluations.evaluation(name)
        return _json({"runs": await evaluations.runs(name, limit)})

    @get("/runs/{run_id:str}", summary="A run's progress, scores, intervals and comparison")
    async def read(self, run_id: str, evaluations: EvaluationService) -> Response[bytes]:
        return _json(await evaluations.report(run_id))

    @post(
        "/runs/{run_id:str}/resume", summary="Resume an interrupted or failed run", status_code=200
    )
    async def resume(self, run_id: str, evaluations: EvaluationService) -> Response[bytes]:
        return _json(await evaluations.resume(run_id))
