"""Campaigns: every campaign with its status, and a page per campaign with its results (the
same document as ``GET /v1/campaigns/{key}/results``) as a table and charts, plus the
controls that change it: pause, resume, end, and its weights (each one config version)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.console import charts
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError, InvalidRequest, NotFound

STATUSES = ("active", "paused", "ended")


@get("/campaigns", include_in_schema=False)
async def campaigns(console: ConsoleContext, user: ConsoleUser) -> Response[Any]:
    _, document = await console.config.current()
    rows = [
        {"function": fname, "key": key, **campaign}
        for fname, function in document.get("functions", {}).items()
        for key, campaign in (function.get("campaigns") or {}).items()
    ]
    return page("campaigns.html", user=user, section="Campaigns", campaigns=rows)


@get("/campaigns/{key:str}", include_in_schema=False)
async def campaign(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    key: str,
    function: str,
    metric: str | None = None,
) -> Response[Any]:
    info, document = await console.config.current()
    config = _campaign(document, function, key)
    results: dict[str, Any] | None = None
    problem = None
    try:
        found = await console.results(key, metric, function)
        results = msgspec.to_builtins(found)
    except GatewayError as exc:
        problem = exc.message
    timeline = await _timeline(console, key, metric, function) if results else None
    return page(
        "campaign.html",
        user=user,
        section="Campaigns",
        key=key,
        function=function,
        config=config,
        version=info.version,
        results=results,
        charts=_charts(results, timeline) if results else {},
        metrics=_metric_names(document),
        error=problem or request.query_params.get("error"),
        message=request.query_params.get("message"),
    )


@post("/campaigns/{key:str}/status", include_in_schema=False)
async def set_status(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    key: str,
    function: str,
) -> Response[Any]:
    form = await _checked_form(request, user)
    status = str(form.get("status") or "")
    if status not in STATUSES:
        raise InvalidRequest(f"Status must be one of {', '.join(STATUSES)}", param="status")

    def mutate(document: dict[str, Any]) -> None:
        _campaign(document, function, key)["status"] = status

    return await _write(
        console, user, key, function, mutate, form.get("version"), f"{status} campaign {key}"
    )


@post("/campaigns/{key:str}/weights", include_in_schema=False)
async def set_weights(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    key: str,
    function: str,
) -> Response[Any]:
    form = await _checked_form(request, user)
    _, document = await console.config.current()
    weights: dict[str, float] = {}
    for variant in _campaign(document, function, key).get("variants", {}):
        text = str(form.get(f"weight.{variant}") or "").strip()
        try:
            weights[variant] = float(text)
        except ValueError:
            return _back(
                key, function, error=f"The weight of {variant} must be a number, got '{text}'."
            )

    def mutate(doc: dict[str, Any]) -> None:
        _campaign(doc, function, key)["variants"] = weights

    return await _write(
        console, user, key, function, mutate, form.get("version"), f"reweight campaign {key}"
    )


async def _checked_form(request: Request[Any, Any, Any], user: ConsoleUser) -> Any:
    await check_csrf(request, user)
    return await request.form()


async def _write(
    console: ConsoleContext,
    user: ConsoleUser,
    key: str,
    function: str,
    mutate: Any,
    version: object,
    comment: str,
) -> Response[Any]:
    if_match = int(version) if isinstance(version, str) and version.isdigit() else None
    try:
        saved = await console.config.write(
            mutate,
            author=user.name,
            comment=comment,
            if_match=if_match,
            target=f"functions/{function}/campaigns/{key}",
        )
    except GatewayError as exc:
        return _back(key, function, error=f"Not saved: {exc.message}")
    return _back(key, function, message=f"Saved as version {saved.version}.")


def _back(
    key: str, function: str, *, error: str | None = None, message: str | None = None
) -> Response[Any]:
    target = f"/ui/campaigns/{quote(key)}?function={quote(function)}"
    if error:
        target += f"&error={quote(error)}"
    if message:
        target += f"&message={quote(message)}"
    return Redirect(target, status_code=303)


async def _timeline(
    console: ConsoleContext, key: str, metric: str | None, function: str
) -> dict[str, Any] | None:
    try:
        timeline: dict[str, Any] = msgspec.to_builtins(
            await console.timeline(key, metric, function)
        )
    except GatewayError:
        return None
    return timeline


def _charts(results: dict[str, Any], timeline: dict[str, Any] | None) -> dict[str, str]:
    variants = results["variants"]
    total_units = sum(v["units"] for v in variants) or None
    total_weight = sum(v["weight"] for v in variants) or 1.0
    drawn = {
        "means": charts.interval_chart(
            f"Mean {results['metric']} per variant, with 95% interval",
            [
                charts.Interval(v["variant"], v["mean"], *(v["ci95"] or (None, None)))
                for v in variants
            ],
        ),
        "allocation": charts.share_chart(
            "Share of units: configured (dashed) and observed (filled)",
            [
                charts.Share(
                    v["variant"],
                    v.get("allocation", v["weight"] / total_weight),
                    v["units"] / total_units if total_units else None,
                )
                for v in variants
            ],
        ),
    }
    if timeline:
        drawn["timeline"] = charts.line_chart(
            f"Cumulative mean of {results['metric']} over time",
            _timeline_series(timeline),
        )
    return drawn


def _timeline_series(timeline: dict[str, Any]) -> list[charts.Series]:
    by_variant: dict[str, list[tuple[str, float | None]]] = {}
    for point in timeline.get("points", []):
        by_variant.setdefault(point["variant"], []).append(
            (str(point["bucket"]), point.get("cumulative_mean"))
        )
    return [charts.Series(name, points) for name, points in by_variant.items()]


def _metric_names(document: dict[str, Any]) -> list[str]:
    return [
        name
        for name, metric in document.get("metrics", {}).items()
        if metric.get("type") in ("boolean", "float")
    ]


def _campaign(document: dict[str, Any], function: str, key: str) -> dict[str, Any]:
    found = document.get("functions", {}).get(function, {}).get("campaigns", {}).get(key)
    if found is None:
        raise NotFound(f"No campaign '{key}' in function '{function}'", param="key")
    campaign: dict[str, Any] = found
    return campaign


HANDLERS = [campaigns, campaign, set_status, set_weights]
