"""Spend reports (docs/spend.md): cost summed in ClickHouse, grouped by any of function,
variant, model (the configured one that served the request), provider, API key and day, over a time
window.

The grouping names map to fixed SQL expressions and the window is passed as query parameters,
so no part of a request is ever pasted into SQL.

Cost is summed as a Decimal (12 places, a millionth of a micro-dollar) and the total with
``math.fsum``: a float sum in ClickHouse runs in parallel in no fixed order, so two reads of
the same rows could differ in the last digits, and a figure rounded for display could flip
between the console and the API.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import msgspec

from app.errors import InvalidRequest

# group_by name → SQL expression. ``model`` is the configured model that served the request
# (a function's: its variant's); rows from before migration 0012 have only what the client
# asked. The column is qualified so the alias ``model`` does not refer to itself.
GROUPS = {
    "function": "function",
    "variant": "variant",
    "model": "if(served_model != '', served_model, inferences.model)",
    "provider": "provider",
    "api_key": "api_key_id",
    "day": "toString(toDate(created_at))",
}
TOTALS = (
    "inferences",
    "priced",
    "unpriced",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)
_AGGREGATES = """
    count() AS inferences,
    countIf(cost IS NOT NULL) AS priced,
    countIf(cost IS NULL AND provider != '') AS unpriced,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    toFloat64(sum(toDecimal128(ifNull(cost, 0), 12))) AS cost_usd"""


class SpendRow(msgspec.Struct, kw_only=True):
    """One group: its keys (only those grouped by), counts and the summed cost in USD.
    ``unpriced`` counts answered inferences whose route had no known price (not in cost)."""

    function: str | msgspec.UnsetType = msgspec.UNSET
    variant: str | msgspec.UnsetType = msgspec.UNSET
    model: str | msgspec.UnsetType = msgspec.UNSET
    provider: str | msgspec.UnsetType = msgspec.UNSET
    api_key: str | msgspec.UnsetType = msgspec.UNSET
    day: str | msgspec.UnsetType = msgspec.UNSET
    inferences: int
    priced: int
    unpriced: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class SpendReport(msgspec.Struct, kw_only=True):
    group_by: list[str]
    start: str | None = msgspec.field(default=None, name="from")
    end: str | None = msgspec.field(default=None, name="to")
    rows: list[SpendRow]
    total: SpendRow


def parse_group_by(raw: str | None) -> list[str]:
    """``function,variant`` → ``["function", "variant"]``; raises ValueError naming a bad one."""
    names = [n.strip() for n in (raw or "").split(",") if n.strip()]
    for name in names:
        if name not in GROUPS:
            raise ValueError(f"unknown group '{name}' (expected some of {', '.join(GROUPS)})")
    return list(dict.fromkeys(names))


def parse_instant(raw: str | None, param: str) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC unless it says otherwise)."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"'{param}' must be an ISO date or date-time, got {raw!r}", param=param
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def spend_sql(group_by: list[str], start: datetime | None, end: datetime | None) -> str:
    """The report's query; ``{start}``/``{end}`` are bound as parameters."""
    keys = [f"{GROUPS[name]} AS {name}" for name in group_by]
    where = ["1"]
    if start is not None:
        where.append("created_at >= {start:DateTime64(3, 'UTC')}")
    if end is not None:
        where.append("created_at < {end:DateTime64(3, 'UTC')}")
    select = ",\n    ".join([*keys, _AGGREGATES.strip()])
    query = f"SELECT\n    {select}\nFROM inferences\nWHERE {' AND '.join(where)}"
    if group_by:
        query += f"\nGROUP BY {', '.join(group_by)}\nORDER BY cost_usd DESC, {', '.join(group_by)}"
    return query


def spend_rows(group_by: list[str], rows: list[tuple[object, ...]]) -> list[SpendRow]:
    width = len(group_by)
    return [
        msgspec.convert(
            {
                **{name: str(value) for name, value in zip(group_by, row[:width], strict=True)},
                **{name: value or 0 for name, value in zip(TOTALS, row[width:], strict=True)},
            },
            SpendRow,
            strict=False,
        )
        for row in rows
    ]


def total_of(rows: list[SpendRow]) -> SpendRow:
    return SpendRow(
        inferences=sum(r.inferences for r in rows),
        priced=sum(r.priced for r in rows),
        unpriced=sum(r.unpriced for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cost_usd=math.fsum(r.cost_usd for r in rows),
    )


def spend_csv(report: SpendReport) -> bytes:
    columns = [*report.group_by, *TOTALS]
    lines = [",".join(columns)]
    for row in report.rows:
        values = msgspec.structs.asdict(row)
        lines.append(",".join(_csv_cell(values[c]) for c in columns))
    return ("\n".join(lines) + "\n").encode()


def _csv_cell(value: object) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text
