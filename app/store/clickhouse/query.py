"""Reading ClickHouse: the gateway's own lookups, and analysts' read-only SQL (``/admin/sql``).

Both run the synchronous client in a worker thread. Analyst queries get a fresh client whose
session is ``readonly=1`` with time, row and memory limits set *before* ``readonly`` (so the
query cannot lift them: ClickHouse refuses any ``SETTINGS`` change in readonly mode). The
read-only guarantee is ClickHouse's, not a string check on the query.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import msgspec
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from app.errors import GatewayTimeout, InvalidRequest, PermissionDenied, Unavailable
from app.records import Level, TargetInfo
from app.store.clickhouse.client import connect, error_name

T = TypeVar("T")
SqlFormat = Literal["json", "csv", "tsv"]
_CLICKHOUSE_FORMATS = {"json": "JSONCompact", "csv": "CSVWithNames", "tsv": "TabSeparatedWithNames"}
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
}
_MAX_MEMORY_BYTES = 4 * 1024**3


class SqlLimits(msgspec.Struct, frozen=True):
    timeout_s: float = 30.0
    max_rows: int = 100_000


class SqlResult(msgspec.Struct):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int


class _Column(msgspec.Struct):
    name: str
    type: str


class _JsonCompact(msgspec.Struct):
    meta: list[_Column]
    data: list[list[Any]]
    rows: int


_json_compact = msgspec.json.Decoder(_JsonCompact)


def run_readonly(url: str, sql: str, fmt: SqlFormat, limits: SqlLimits) -> bytes:
    """Run an analyst query; return the body in ``fmt`` (JSON as :class:`SqlResult`).

    Raises OpenAI-shaped errors: 403 for writes, 504 past the time limit, 400 for anything
    else ClickHouse refuses (syntax, row limit...), 503 when ClickHouse cannot be reached.
    """
    settings = {
        "max_execution_time": limits.timeout_s,
        "max_result_rows": limits.max_rows,
        "result_overflow_mode": "throw",
        "max_memory_usage": _MAX_MEMORY_BYTES,
        "output_format_json_quote_64bit_integers": 0,
        "readonly": 1,  # last: after it, no setting can change
    }
    query = sql.strip().rstrip(";")
    try:
        # A fresh handle per query: chDB replays a failed query's output into the next one.
        client = connect(url, settings, receive_timeout_s=limits.timeout_s + 10)
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises, it means unreachable
        raise Unavailable(f"ClickHouse is not reachable: {exc}") from None
    try:
        raw = client.raw_query(query, fmt=_CLICKHOUSE_FORMATS[fmt])
    except OperationalError as exc:
        raise Unavailable(f"ClickHouse is not reachable: {exc}") from None
    except DatabaseError as exc:
        raise _query_error(exc, limits) from None
    finally:
        client.close()
    if fmt != "json":
        return raw
    if not raw.strip():  # a statement with no result set (DROP, SET, ...), refused or not
        return msgspec.json.encode(SqlResult([], [], [], 0))
    decoded = _json_compact.decode(raw)
    result = SqlResult(
        [c.name for c in decoded.meta], [c.type for c in decoded.meta], decoded.data, decoded.rows
    )
    return msgspec.json.encode(result)


def _query_error(exc: DatabaseError, limits: SqlLimits) -> Exception:
    name = error_name(exc)
    message = str(exc).split("\n")[0]
    if name == "READONLY":
        return PermissionDenied(
            f"Admin SQL is read-only: {message}", param="query", code="readonly"
        )
    if name == "TIMEOUT_EXCEEDED":
        return GatewayTimeout(
            f"Query stopped at the {limits.timeout_s:g} s limit: {message}", param="query"
        )
    if name == "TOO_MANY_ROWS_OR_BYTES":
        return InvalidRequest(
            f"Query returns more than {limits.max_rows} rows; add a LIMIT or aggregate: {message}",
            param="query",
            code="too_many_rows",
        )
    return InvalidRequest(
        f"ClickHouse refused the query: {message}",
        param="query",
        code=(name or "clickhouse_error").lower(),
    )


class Reader:
    """The gateway's own reads (id lookups, readiness, results) and admin inserts: what they
    mean, over how a process reaches ClickHouse (:class:`ClickHouseReader` here, or
    :class:`~app.store.clickhouse.remote.RemoteReader` through the store process)."""

    def rows_sync(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def insert_sync(self, table: str, columns: list[str], payload: bytes) -> None:
        """Insert ``JSONEachRow`` rows at once, outside the writer's batches: for admin edits
        (datasets) whose caller waits for them and retries on an error itself."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    async def rows(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self.rows_sync, sql, parameters)

    async def insert(self, table: str, columns: list[str], payload: bytes) -> None:
        await asyncio.to_thread(self.insert_sync, table, columns, payload)

    async def target(self, target_id: str, level: Level) -> TargetInfo | None:
        """The inference an inference/completion id (level ``inference``) belongs to, or the
        first inference of an episode (level ``episode``): a point read through
        ``inference_by_id`` and the sort key of ``inferences``."""
        kinds = ["inference", "completion"] if level == "inference" else ["episode"]
        rows = await self.rows(
            """
            SELECT toString(id), toString(episode_id), function, variant, campaign
            FROM inferences
            WHERE (function, variant, created_at, id) IN (
                SELECT function, variant, created_at, inference_id FROM inference_by_id
                WHERE id = toUUIDOrZero({id:String}) AND kind IN {kinds:Array(String)}
            )
            ORDER BY created_at LIMIT 1
            """,
            {"id": target_id, "kinds": kinds},
        )
        if not rows:
            return None
        inference_id, episode_id, function, variant, campaign = rows[0]
        return TargetInfo(
            inference_id if level == "inference" else None, episode_id, function, variant, campaign
        )


class ClickHouseReader(Reader):
    """Reads serialized on one lazily opened client that is replaced after any error (see the
    chDB note in ``client.py``)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: Client | None = None
        self._lock = threading.Lock()

    def rows_sync(
        self, sql: str, parameters: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return self._with_client(
            lambda client: [tuple(r) for r in client.query(sql, parameters=parameters).result_rows]
        )

    def insert_sync(self, table: str, columns: list[str], payload: bytes) -> None:
        self._with_client(
            lambda client: client.raw_insert(
                table, columns, insert_block=payload, fmt="JSONEachRow"
            )
        )

    def _with_client(self, work: Callable[[Client], T]) -> T:
        with self._lock:
            try:
                if self._client is None:
                    self._client = connect(self._url)
                return work(self._client)
            except OperationalError as exc:  # connection-level: the server is not there
                self._drop_client()
                raise Unavailable(
                    f"ClickHouse is not reachable ({type(exc).__name__}); retry later",
                    code="store_unavailable",
                ) from None
            except Exception:
                self._drop_client()
                raise

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
