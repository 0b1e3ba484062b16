"""SQL: analysts' read-only ClickHouse queries, with the same limits as ``POST /admin/sql``
(the read-only session is ClickHouse's, see docs/analytics.md)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post

from app.console.context import ConsoleContext
from app.console.render import SECURITY_HEADERS, page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError
from app.store.clickhouse.query import MEDIA_TYPES, SqlResult

EXAMPLE = "SELECT function, variant, count() AS inferences\nFROM inferences\nGROUP BY function, variant\nORDER BY inferences DESC"


def _sql_page(
    user: ConsoleUser,
    query: str,
    *,
    result: SqlResult | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response[Any]:
    return page(
        "sql.html", status, user=user, query=query, result=result, error=error, section="SQL"
    )


@get("/sql", include_in_schema=False)
async def sql_form(user: ConsoleUser) -> Response[Any]:
    return _sql_page(user, EXAMPLE)


@post("/sql", include_in_schema=False)
async def sql_run(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    query = str((await request.form()).get("query") or "")
    if not query.strip():
        return _sql_page(user, query, error="The query is empty.", status=400)
    try:
        result = msgspec.json.decode(await console.run_sql(query, "json"), type=SqlResult)
    except GatewayError as exc:
        return _sql_page(user, query, error=exc.message, status=exc.status)
    return _sql_page(user, query, result=result)


@post("/sql/csv", include_in_schema=False)
async def sql_csv(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    query = str((await request.form()).get("query") or "")
    try:
        body = await console.run_sql(query, "csv")
    except GatewayError as exc:
        return _sql_page(user, query, error=exc.message, status=exc.status)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": 'attachment; filename="switchyard-query.csv"',
    }
    return Response(body, media_type=MEDIA_TYPES["csv"], headers=headers)


HANDLERS = [sql_form, sql_run, sql_csv]
