"""``GET /admin/spend``: what inferences cost, grouped and summed in ClickHouse (docs/spend.md).

Admin only, even while auth is otherwise off (like ``/admin/sql``): spend per key is as
sensitive as the rows it is computed from.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from litestar import Response, get
from litestar.params import Parameter

from app.api.security import requires_named_admin
from app.errors import InvalidRequest
from app.store.clickhouse.spend import TOTALS, SpendReport, parse_group_by
from app.store.recorder import ClickHouseRecorder
from app.wire.response import encoder


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


@get(
    "/admin/spend",
    summary="Spend in USD, grouped by function, variant, model, api_key and/or day",
    tags=["admin"],
    guards=[requires_named_admin],
)
async def admin_spend(
    recorder: ClickHouseRecorder,
    group_by: Annotated[str | None, Parameter(query="group_by")] = None,
    start: Annotated[str | None, Parameter(query="from")] = None,
    end: Annotated[str | None, Parameter(query="to")] = None,
    fmt: Annotated[Literal["json", "csv"], Parameter(query="format")] = "json",
) -> Response[bytes]:
    try:
        groups = parse_group_by(group_by)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param="group_by") from None
    report = await recorder.spend(groups, parse_instant(start, "from"), parse_instant(end, "to"))
    if fmt == "csv":
        return Response(spend_csv(report), media_type="text/csv")
    return Response(encoder.encode(report), media_type="application/json")
