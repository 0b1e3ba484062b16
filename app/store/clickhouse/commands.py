"""``switchyard migrate`` (the ClickHouse half) and ``switchyard sql``.

Embedded chDB lets one process at a time open its data directory, and a running gateway holds
it. So ``switchyard sql`` asks the running gateway (``POST /admin/sql``) first and opens the
store itself only when no gateway answers.
"""

from __future__ import annotations

import sys
from typing import TextIO

import httpx
import msgspec

from app.store.clickhouse.client import connect, describe, is_embedded
from app.store.clickhouse.migrate import Migration, apply_migrations
from app.store.clickhouse.query import SqlFormat, SqlLimits, SqlResult, run_readonly

_CELL_WIDTH = 60


def migrate_clickhouse(url: str, cluster: str | None = None) -> list[Migration]:
    client = connect(url)
    try:
        return apply_migrations(client, cluster=cluster)
    finally:
        client.close()


def run_sql(
    query: str,
    fmt: SqlFormat | None,
    *,
    gateway_url: str,
    token: str | None,
    clickhouse_url: str,
    limits: SqlLimits,
    out: TextIO = sys.stdout,
) -> int:
    """Print the result of ``query``: a table when ``fmt`` is None, else raw JSON/CSV/TSV."""
    wire: SqlFormat = fmt or "json"
    try:
        body = _via_gateway(gateway_url, token, query, wire, limits)
    except httpx.ConnectError:
        try:
            body = run_readonly(clickhouse_url, query, wire, limits)
        except Exception as exc:  # noqa: BLE001 - any failure is reported to the user, not raised
            message = getattr(exc, "message", str(exc))
            hint = ""
            if is_embedded(clickhouse_url) and "lock" in message.lower():
                hint = (
                    f"\n(another process holds {describe(clickhouse_url)}: "
                    "is a gateway running on another port? use --url)"
                )
            print(f"switchyard sql: {message}{hint}", file=sys.stderr)
            return 1
    except _GatewayRefused as exc:
        print(f"switchyard sql: {exc}", file=sys.stderr)
        return 1
    if fmt is None:
        out.write(format_table(msgspec.json.decode(body, type=SqlResult)))
    else:
        out.write(body.decode())
        if not body.endswith(b"\n"):
            out.write("\n")
    return 0


class _GatewayRefused(Exception):
    pass


def _via_gateway(
    url: str, token: str | None, query: str, fmt: SqlFormat, limits: SqlLimits
) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url.rstrip("/") + "/admin/sql",
        json={"query": query, "format": fmt},
        headers=headers,
        timeout=limits.timeout_s + 15,
    )
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        raise _GatewayRefused(f"{url} answered {response.status_code}: {message}")
    return response.content


def format_table(result: SqlResult) -> str:
    """A plain-text table, cells cut at 60 characters, with the row count underneath."""
    cells = [[_cell(value) for value in row] for row in result.rows]
    widths = [len(name) for name in result.columns]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = [
        "  ".join(name.ljust(width) for name, width in zip(result.columns, widths, strict=False)),
        "  ".join("-" * width for width in widths),
    ]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        for row in cells
    ]
    lines.append(f"({result.row_count} row{'s' if result.row_count != 1 else ''})")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, str):
        text = value
    else:
        text = msgspec.json.encode(value).decode()
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"
