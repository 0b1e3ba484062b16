"""``POST /admin/sql``: read-only ClickHouse queries for analysts (see docs/analytics.md,
"Querying").

Read-only is enforced by ClickHouse (a ``readonly=1`` session with time, row and memory
limits; see ``app.store.clickhouse.query``), not by inspecting the query. It needs an admin
key or ``SWITCHYARD_ADMIN_TOKEN``, even while auth is otherwise off.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Response, post

from app.api.bodies import body_of
from app.api.security import requires_named_admin
from app.errors import InvalidRequest
from app.store.clickhouse.query import MEDIA_TYPES
from app.store.recorder import ClickHouseRecorder


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    format: Literal["json", "csv", "tsv"] = "json"


@post(
    "/admin/sql",
    status_code=200,
    summary="Run a read-only ClickHouse query",
    tags=["admin"],
    guards=[requires_named_admin],
    opt=body_of(SqlRequest),
)
async def admin_sql(payload: SqlRequest, recorder: ClickHouseRecorder) -> Response[bytes]:
    if not payload.query.strip():
        raise InvalidRequest("'query' is empty", param="query")
    content = await recorder.sql(payload.query, payload.format)
    return Response(content, media_type=MEDIA_TYPES[payload.format])
