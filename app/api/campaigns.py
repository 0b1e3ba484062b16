"""``GET /v1/campaigns/{key}/results`` (SPEC §2.3)."""

from __future__ import annotations

from litestar import Request, Response, get

from app.experiments.results import CampaignResultsService
from app.wire.response import encoder


@get(
    "/v1/campaigns/{key:str}/results",
    summary="Per-variant results of a campaign, with statistics",
    tags=["experiments"],
)
async def campaign_results(
    request: Request, key: str, metric: str | None = None, function: str | None = None
) -> Response[bytes]:
    request.app.state.auth.authenticate(request.headers.get("authorization"))
    service: CampaignResultsService = request.app.state.campaign_results
    results = await service.results(key, metric, function)
    return Response(encoder.encode(results), media_type="application/json")
