"""``GET /v1/campaigns/{key}/results`` and ``.../results/timeline`` (docs/experiments.md,
"Read the results")."""

from __future__ import annotations

from litestar import Response, get

from app.api.security import authenticated
from app.experiments.results import CampaignResultsService
from app.wire.response import encoder


@get(
    "/v1/campaigns/{key:str}/results",
    summary="Per-variant results of a campaign, with statistics",
    tags=["experiments"],
    guards=[authenticated],
)
async def campaign_results(
    key: str,
    campaigns: CampaignResultsService,
    metric: str | None = None,
    function: str | None = None,
) -> Response[bytes]:
    results = await campaigns.results(key, metric, function)
    return Response(encoder.encode(results), media_type="application/json")


@get(
    "/v1/campaigns/{key:str}/results/timeline",
    summary="A campaign's results per hour or day, with cumulative confidence sequences",
    tags=["experiments"],
    guards=[authenticated],
)
async def campaign_timeline(
    key: str,
    campaigns: CampaignResultsService,
    metric: str | None = None,
    function: str | None = None,
    bucket: str = "day",
) -> Response[bytes]:
    timeline = await campaigns.timeline(key, metric, function, bucket)
    return Response(encoder.encode(timeline), media_type="application/json")
