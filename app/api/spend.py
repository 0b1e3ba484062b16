"""``GET /admin/spend``: what inferences cost, grouped and summed in ClickHouse (docs/spend.md).

Admin only, even while auth is otherwise off (like ``/admin/sql``): spend per key is as
sensitive as the rows it is computed from.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Response, get
from litestar.params import Parameter

from app.api.security import requires_named_admin
from app.errors import InvalidRequest
from app.store.clickhouse.spend import parse_group_by, parse_instant, spend_csv
from app.store.recorder import ClickHouseRecorder
from app.wire.response import encoder


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
