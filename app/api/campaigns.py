"""``GET /v1/campaigns/{key}/results`` and ``.../results/timeline`` (docs/experiments.md)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from app.experiments.results import CampaignResultsService
from app.wire.response import encoder


def _service(request: Request[Any, Any, Any]) -> CampaignResultsService:
    request.app.state.auth.authenticate(request.headers.get("authorization"))
    service: CampaignResultsService = request.app.state.campaign_results
    return service


@get(
    "/v1/campaigns/{key:str}/results",
    summary="Per-variant results of a campaign, with statistics",
    tags=["experiments"],
)
async def campaign_results(
    request: Request[Any, Any, Any],
    key: str,
    metric: str | None = None,
    function: str | None = None,
) -> Response[bytes]:
    results = await _service(request).results(key, metric, function)
    return Response(encoder.encode(results), media_type="application/json")


@get(
    "/v1/campaigns/{key:str}/results/timeline",
    summary="A campaign's results per hour or day, with cumulative confidence sequences",
    tags=["experiments"],
)
async def campaign_timeline(
    request: Request[Any, Any, Any],
    key: str,
    metric: str | None = None,
    function: str | None = None,
    bucket: str = "day",
) -> Response[bytes]:
    timeline = await _service(request).timeline(key, metric, function, bucket)
    return Response(encoder.encode(timeline), media_type="application/json")
