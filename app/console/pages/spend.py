"""Spend: what inferences cost over a chosen range, grouped by any of day, function, variant,
model and key, with a chart per day, totals, each budget and how much of it is used, and a CSV
download. The numbers are ``GET /admin/spend``'s (the same query); budgets are read from this
process's tallies, which the budget check itself uses (docs/spend.md).

The range is picked as whole UTC days, both ends included: ``to`` is sent to the query as the
start of the next day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Response, get

from app.auth.budget import resets_at
from app.console.charts import Bar, bar_chart
from app.console.context import ConsoleContext
from app.console.render import SECURITY_HEADERS, page
from app.console.session import ConsoleUser
from app.errors import GatewayError, InvalidRequest
from app.store.clickhouse.spend import GROUPS, SpendReport, parse_group_by, spend_csv

# What the page groups by until the admin unticks some: the issue's "day × function × variant
# × model × key". ``provider`` is offered too, as in the API.
DEFAULT_GROUPS = ["day", "function", "variant", "model", "api_key"]
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class SpendRange:
    first: date
    last: date  # included
    groups: list[str]

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.last.year, self.last.month, self.last.day, tzinfo=UTC) + timedelta(
            days=1
        )

    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}&group_by={','.join(self.groups)}"


@dataclass(frozen=True, slots=True)
class BudgetUse:
    scope: str  # "key" or "function"
    name: str
    budget_usd: float
    period: str
    spent_usd: float
    resets: str  # "" for a total budget
    used: float  # spent / budget


def parse_range(params: Any, today: date) -> SpendRange:
    """The form's range; a bad date or group is a 400 naming the field."""
    last = _day(params.get("to"), "to") or today
    first = _day(params.get("from"), "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidRequest("'from' must be on or before 'to'", param="from")
    raw_groups = params.getall("group_by", [])
    # The form sends ``grouped`` so that unticking every group means no grouping, not the default.
    if not raw_groups and "grouped" not in params:
        return SpendRange(first, last, list(DEFAULT_GROUPS))
    try:
        groups = parse_group_by(",".join(raw_groups))
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="group_by") from None
    return SpendRange(first, last, groups)


def _day(raw: str | None, param: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"'{param}' must be a date like 2026-12-01, got {raw!r}") from None


async def _report(console: ConsoleContext, picked: SpendRange, groups: list[str]) -> SpendReport:
    return await console.config.guard(console.spend(groups, picked.start, picked.end))


async def budgets_in_use(console: ConsoleContext) -> list[BudgetUse]:
    """Every key (not revoked) and function with a budget, and what it has spent this period."""
    now = time.time()
    at = datetime.fromtimestamp(now, UTC)
    found: list[tuple[str, str, str, float, str]] = [
        ("key", k.id, f"{k.name} ({k.prefix})", k.budget_usd, k.budget_period or "month")
        for k in await console.config.guard(console.keys.list())
        if k.budget_usd and not k.revoked_at
    ]
    found.extend(
        ("function", name, name, f.config.budget_usd, f.config.budget_period)
        for name, f in sorted(console.live.current.functions.items())
        if f.config.budget_usd
    )
    uses = []
    for scope, subject, label, budget, period in found:
        ends = resets_at(period, at)
        spent = console.auth.budgets.spent(scope, subject, period, now)
        uses.append(
            BudgetUse(
                scope=scope,
                name=label,
                budget_usd=budget,
                period=period,
                spent_usd=spent,
                resets=f"{ends:%Y-%m-%d %H:%M} UTC" if ends else "",
                used=spent / budget,
            )
        )
    return uses


def _daily_chart(daily: SpendReport) -> str:
    bars = [Bar(str(row.day), row.cost_usd) for row in sorted(daily.rows, key=lambda r: str(r.day))]
    return bar_chart("Spend per day (USD)", bars)


@get("/spend", include_in_schema=False)
async def spend(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    today = datetime.now(UTC).date()
    try:
        picked = parse_range(request.query_params, today)
    except GatewayError as exc:
        picked = SpendRange(today - timedelta(days=DEFAULT_DAYS - 1), today, list(DEFAULT_GROUPS))
        return await _page(console, user, picked, status=exc.status, error=exc.message)
    return await _page(console, user, picked)


async def _page(
    console: ConsoleContext,
    user: ConsoleUser,
    picked: SpendRange,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response[Any]:
    report = await _report(console, picked, picked.groups)
    daily = await _report(console, picked, ["day"])
    key_names = {k.id: k.name for k in await console.config.guard(console.keys.list())}
    return page(
        "spend.html",
        status,
        user=user,
        section="Spend",
        picked=picked,
        groups=list(GROUPS),
        report=report,
        rows=[msgspec.structs.asdict(row) for row in report.rows],
        first=picked.first.isoformat(),
        last=picked.last.isoformat(),
        query=picked.query(),
        chart=_daily_chart(daily),
        key_names=key_names,
        budgets=await budgets_in_use(console),
        error=error,
    )


@get("/spend.csv", include_in_schema=False)
async def spend_download(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    del user  # signed in is all it takes; the dependency enforces it
    today = datetime.now(UTC).date()
    picked = parse_range(request.query_params, today)
    report = await _report(console, picked, picked.groups)
    name = f"spend-{picked.first.isoformat()}-{picked.last.isoformat()}.csv"
    return Response(
        spend_csv(report),
        media_type="text/csv",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


HANDLERS = [spend, spend_download]
