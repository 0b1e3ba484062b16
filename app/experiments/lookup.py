"""Finding the campaign and the metric a results request names, with the errors the API
answers (404 for unknown names, 400 for an ambiguous key or an unusable metric)."""

from __future__ import annotations

from app.config.compile import Snapshot
from app.config.functions import CompiledCampaign
from app.config.schema import MetricConfig
from app.errors import InvalidRequest, NotFound


def find_campaign(snapshot: Snapshot, key: str, function: str | None) -> CompiledCampaign:
    if key in snapshot.campaigns_by_id:
        return snapshot.campaigns_by_id[key]
    matches = [
        f.campaigns[key]
        for f in snapshot.functions.values()
        if key in f.campaigns and function in (None, f.name)
    ]
    if not matches:
        raise NotFound(
            f"No campaign '{key}'" + (f" in function '{function}'" if function else ""), param="key"
        )
    if len(matches) > 1:
        names = ", ".join(c.function for c in matches)
        raise InvalidRequest(
            f"Campaign '{key}' exists in several functions ({names}); pass ?function=",
            param="function",
        )
    return matches[0]


def find_metric(
    snapshot: Snapshot, campaign: CompiledCampaign, name: str | None
) -> tuple[str, MetricConfig]:
    """The metric named by ``?metric=``, else the campaign's primary metric; boolean or float."""
    name = name or campaign.config.metric
    if not name:
        raise InvalidRequest("This campaign names no metric; pass ?metric=", param="metric")
    metric = snapshot.metrics.get(name)
    if metric is None:
        raise NotFound(f"No metric '{name}'", param="metric")
    if metric.type not in ("boolean", "float"):
        raise InvalidRequest(
            f"Metric '{name}' is a {metric.type}; results need a boolean or float metric",
            param="metric",
        )
    return name, metric
