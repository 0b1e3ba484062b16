"""Providers and models: each provider's routes, its circuit breaker as this process sees it,
and its recent error rate and latency from the attempt log (``model_inferences``).

Nothing here is measured anew: breakers are the ones requests consult (docs/providers.md,
"Circuit breaker"), and the figures are one ClickHouse query over the last ``minutes``. Breakers
are per gateway process, so with several replicas each shows its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get

from app.config.compile import Snapshot
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser
from app.providers.breaker import BreakerBoard

WINDOWS = (15, 60, 360, 1440)  # minutes the page offers
DEFAULT_WINDOW = 60

RECENT_SQL = """
SELECT
    provider,
    model,
    count() AS attempts,
    countIf(status = 'error') AS errors,
    quantile(0.5)(latency_ms) AS p50_ms,
    quantile(0.95)(latency_ms) AS p95_ms,
    toString(max(created_at)) AS last_at
FROM model_inferences
WHERE created_at >= now64(3) - toIntervalMinute({minutes:UInt32})
GROUP BY provider, model
ORDER BY provider, model
"""


@dataclass(frozen=True, slots=True)
class RouteUse:
    model: str  # the configured model name clients and variants ask for
    provider_model: str  # what the provider is sent
    position: int  # 1 = first choice; later ones are fallbacks


@dataclass(frozen=True, slots=True)
class Recent:
    model: str
    attempts: int
    errors: int
    error_rate: float
    p50_ms: float
    p95_ms: float
    last_at: str


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    name: str
    type: str
    base_url: str
    routes: list[RouteUse]
    state: str  # closed, open, half_open; "unused" if no request has gone to it yet
    failures: int
    reopens_in_s: float | None
    last_error: str
    recent: list[Recent]


def routes_by_provider(snapshot: Snapshot) -> dict[str, list[RouteUse]]:
    found: dict[str, list[RouteUse]] = {name: [] for name in snapshot.providers}
    for model, routes in sorted(snapshot.models.items()):
        for position, route in enumerate(routes, start=1):
            found.setdefault(route.provider_name, []).append(RouteUse(model, route.model, position))
    return found


def provider_statuses(
    snapshot: Snapshot, board: BreakerBoard, recent: list[tuple[Any, ...]]
) -> list[ProviderStatus]:
    by_provider: dict[str, list[Recent]] = {}
    for provider, model, attempts, errors, p50, p95, last_at in recent:
        by_provider.setdefault(str(provider), []).append(
            Recent(
                str(model),
                int(attempts),
                int(errors),
                errors / attempts if attempts else 0.0,
                float(p50 or 0),
                float(p95 or 0),
                str(last_at)[:19],
            )
        )
    statuses = []
    for name, routes in routes_by_provider(snapshot).items():
        config = snapshot.providers.get(name)
        breaker = board.get(name)
        statuses.append(
            ProviderStatus(
                name=name,
                type=str(type(config).__struct_config__.tag) if config else "?",
                base_url=str(getattr(config, "base_url", "")),
                routes=routes,
                state=breaker.state if breaker else "unused",
                failures=breaker.failures if breaker else 0,
                reopens_in_s=breaker.reopens_in() if breaker else None,
                last_error=breaker.last_error if breaker else "",
                recent=by_provider.pop(name, []),
            )
        )
    return statuses


def _window(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) in WINDOWS else DEFAULT_WINDOW


@get("/providers", include_in_schema=False)
async def providers(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    minutes = _window(request.query_params.get("minutes"))
    recent = await console.config.guard(console.rows(RECENT_SQL, {"minutes": minutes}))
    return page(
        "providers.html",
        user=user,
        section="Providers",
        providers=provider_statuses(console.live.current, console.breakers, recent),
        minutes=minutes,
        windows=WINDOWS,
    )


HANDLERS = [providers]
