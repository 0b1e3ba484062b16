"""Evaluations: the configured offline evaluations with a form that starts a run, the latest
runs, and a run's page — progress while it runs (the page reloads itself), then per variant
and evaluator the mean with its 95% interval drawn, and the paired difference of two variants
with its interval and p-value (docs/evaluations.md).

The numbers are ``GET /admin/evaluations/runs/{id}``'s: the same :class:`EvaluationService`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect

from app.console import charts
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError, InvalidRequest
from app.wire.evaluations import RunCreate

REFRESH_S = 2  # how often a running run's page reloads itself


@get("/evaluations", include_in_schema=False)
async def evaluations(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    function: str | None = None,
) -> Response[Any]:
    return await _list_page(
        console, user, function=function, error=request.query_params.get("error")
    )


@post("/evaluations/{name:str}/runs", include_in_schema=False)
async def start_run(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    try:
        report = await console.evaluations.start(name, _run_request(form), user.name)
    except GatewayError as exc:
        function = console.evaluations.evaluation(name).function
        return await _list_page(
            console, user, function=function, status=exc.status, error=exc.message
        )
    return Redirect(f"/ui/evaluations/runs/{quote(report.id)}", status_code=303)


@get("/evaluations/runs/{run_id:str}", include_in_schema=False)
async def run(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, run_id: str
) -> Response[Any]:
    report = msgspec.to_builtins(await console.evaluations.report(run_id))
    return page(
        "run.html",
        user=user,
        section="Evaluations",
        run=report,
        evaluators=_evaluator_names(report),
        charts=_charts(report),
        refresh_s=REFRESH_S if report["status"] == "running" else None,
        message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )


@post("/evaluations/runs/{run_id:str}/resume", include_in_schema=False)
async def resume_run(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, run_id: str
) -> Response[Any]:
    await check_csrf(request, user)
    target = f"/ui/evaluations/runs/{quote(run_id)}"
    try:
        await console.evaluations.resume(run_id)
    except GatewayError as exc:
        return Redirect(f"{target}?error={quote(exc.message)}", status_code=303)
    return Redirect(f"{target}?message={quote('Resumed.')}", status_code=303)


async def _list_page(
    console: ConsoleContext,
    user: ConsoleUser,
    *,
    function: str | None,
    status: int = 200,
    **extra: Any,
) -> Response[Any]:
    snapshot = console.live.current
    configured = [
        {**e, "variants": sorted(snapshot.functions[e["function"]].variants)}
        for e in console.evaluations.configured()
        if function is None or e["function"] == function
    ]
    names = {e["name"] for e in configured}
    runs = [
        r
        for r in msgspec.to_builtins(await console.evaluations.runs(None))
        if r["evaluation"] in names
    ]
    return page(
        "evaluations.html",
        status,
        user=user,
        section="Evaluations",
        evaluations=configured,
        runs=runs,
        function=function,
        **extra,
    )


def _run_request(form: FormMultiDict) -> RunCreate:
    body: dict[str, Any] = {"variants": [str(v) for v in form.getall("variant", [])]}
    if not body["variants"]:
        raise InvalidRequest("Pick at least one variant to evaluate.", param="variants")
    for field in ("concurrency", "limit"):
        text = str(form.get(field) or "").strip()
        if text:
            if not text.isdigit():
                raise InvalidRequest(f"'{field}' must be a whole number, got '{text}'", param=field)
            body[field] = int(text)
    try:
        return msgspec.convert(body, RunCreate)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Not started: {exc}", param="run") from None


def _evaluator_names(report: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for result in report["results"]:
        names.extend(n for n in result["evaluators"] if n not in names)
    return names


def _charts(report: dict[str, Any]) -> dict[str, str]:
    """Per evaluator: each variant's mean and interval, and the paired difference around 0."""
    drawn: dict[str, str] = {}
    for name in _evaluator_names(report):
        rows = []
        for result in report["results"]:
            summary = result["evaluators"].get(name) or {}
            low, high = summary.get("ci") or (None, None)
            rows.append(charts.Interval(result["variant"], summary.get("mean"), low, high))
        drawn[name] = charts.interval_chart(
            f"{name}: mean per variant, with 95% interval", rows, empty="No scores yet"
        )
        comparison = report.get("comparison")
        paired = (comparison or {}).get("evaluators", {}).get(name)
        if paired:
            low, high = paired.get("ci") or (None, None)
            label = f"{comparison['second']} − {comparison['first']}"  # type: ignore[index]
            drawn[f"{name}.difference"] = charts.interval_chart(
                f"{name}: paired difference, with 95% interval",
                [charts.Interval(label, paired.get("difference"), low, high)],
                empty="No datapoint scored by both yet",
                reference=0.0,
            )
    return drawn


HANDLERS = [evaluations, start_run, run, resume_run]
