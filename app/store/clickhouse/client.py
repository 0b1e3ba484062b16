"""Opening ClickHouse: one code path for embedded chDB (``chdb://``) and a server (``http(s)://``).

clickhouse-connect picks the backend from the DSN. Both are synchronous, so every caller runs
them in a thread of its own (the writer's thread, or ``asyncio.to_thread``), never on the
event loop.

chDB quirk handled by callers: after a query fails mid-stream (timeout, row limit), the next
query on the *same* handle returns the failed query's leftover output. Handles are cheap
(~15 ms), so readers discard a client after any error instead of reusing it.
"""

from __future__ import annotations

from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

# Fail fast when a server is unreachable: the writer retries on its own schedule.
_CONNECT_TIMEOUT_S = 3


def is_embedded(url: str) -> bool:
    return url.startswith("chdb:")


def connect(
    url: str, settings: dict[str, Any] | None = None, receive_timeout_s: float = 60
) -> Client:
    """A new client for ``url`` with session ``settings`` (applied in order, so put
    ``readonly`` last: once it is set, no further setting can be changed)."""
    options: dict[str, Any] = {}
    if not is_embedded(url):
        options = {
            "connect_timeout": _CONNECT_TIMEOUT_S,
            "send_receive_timeout": receive_timeout_s,
            "autogenerate_session_id": False,
        }
    return clickhouse_connect.get_client(dsn=url, settings=settings or {}, **options)


def describe(url: str) -> str:
    """The URL without credentials, for logs and readiness details."""
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rpartition("@")[2] if sep else url


def error_name(exc: BaseException) -> str | None:
    """ClickHouse's error name (``TIMEOUT_EXCEEDED``, ``READONLY``...) when it reported one."""
    name = getattr(exc, "name", None)
    return str(name) if name else None
