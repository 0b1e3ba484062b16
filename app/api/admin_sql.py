"""``POST /admin/sql``: read-only ClickHouse queries for analysts (SPEC §2.4).

Read-only is enforced by ClickHouse (a ``readonly=1`` session with time, row and memory
limits; see ``app.store.clickhouse.query``), not by inspecting the query. It needs an admin
key or ``SWITCHYARD_ADMIN_TOKEN``, even while auth is otherwise off.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Request, Response, post

from app.auth.service import ANONYMOUS, Principal
from app.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from app.store.clickhouse.query import MEDIA_TYPES


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    format: Literal["json", "csv", "tsv"] = "json"


def sql_principal(request: Request) -> Principal:
    """An admin key or the bootstrap token. Unlike the rest of the admin API, this stays closed
    while auth is off: raw SQL reads every prompt and answer ever logged."""
    principal = request.app.state.auth.authenticate_admin(request.headers.get("authorization"))
    if principal is not ANONYMOUS:
        return principal
    if not request.app.state.settings.admin_token:
        raise PermissionDenied(
            "Admin SQL is disabled: set SWITCHYARD_ADMIN_TOKEN (or create an admin key) and send "
            "'Authorization: Bearer <token>'",
            code="admin_token_unset",
        )
    raise AuthenticationFailed(
        "Missing or wrong admin token: send 'Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>'"
    )


@post("/admin/sql", status_code=200, summary="Run a read-only ClickHouse query", tags=["admin"])
async def admin_sql(request: Request) -> Response[bytes]:
    sql_principal(request)
    try:
        body = msgspec.json.decode(await request.body(), type=SqlRequest)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid body: {exc}", param="query") from None
    except msgspec.DecodeError:
        raise InvalidRequest(
            'Body must be JSON: {"query": "SELECT ...", "format": "json|csv|tsv"}'
        ) from None
    if not body.query.strip():
        raise InvalidRequest("'query' is empty", param="query")
    content = await request.app.state.recorder.sql(body.query, body.format)
    return Response(content, media_type=MEDIA_TYPES[body.format])
