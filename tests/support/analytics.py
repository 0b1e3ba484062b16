"""Reading a gateway's ClickHouse through ``POST /admin/sql`` (chDB is locked by the gateway
process, so tests cannot open it themselves while the gateway runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.gateway import Gateway

ADMIN_TOKEN = "test-admin-token"
# Flush every 50 ms so tests see rows quickly.
LOGGING_ENV = {"SWITCHYARD_ADMIN_TOKEN": ADMIN_TOKEN, "SWITCHYARD_WRITE_INTERVAL_S": "0.05"}


def sql(
    gateway: Gateway, query: str, fmt: str = "json", token: str | None = ADMIN_TOKEN
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        gateway.url + "/admin/sql",
        json={"query": query, "format": fmt},
        headers=headers,
        timeout=60,
    )


def rows(gateway: Gateway, query: str) -> list[dict[str, Any]]:
    response = sql(gateway, query)
    assert response.status_code == 200, response.text
    result = response.json()
    return [dict(zip(result["columns"], row, strict=False)) for row in result["rows"]]


def wait_rows(
    gateway: Gateway, query: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 15
) -> list[dict[str, Any]]:
    """Poll ``query`` until ``done(rows)``; return the last rows either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = rows(gateway, query)
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def metric(gateway: Gateway, name: str) -> float:
    """The value of an unlabelled series on ``/metrics``."""
    for line in httpx.get(gateway.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")
