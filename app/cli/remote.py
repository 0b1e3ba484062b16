"""Calls of a running gateway's HTTP API by the commands that work through it (``sql``,
``spend``, ``dataset``, ``eval``): one place for the base URL, the token and how a failure is
printed."""

from __future__ import annotations

import sys
from typing import Any

from app.settings import Settings

GATEWAY_URL_HELP = "a running gateway (default http://SWITCHYARD_HOST:SWITCHYARD_PORT)"
TOKEN_HELP = "admin key or token (default SWITCHYARD_ADMIN_TOKEN)"


def gateway_request(
    command: str,
    url: str | None,
    token: str | None,
    method: str,
    path: str,
    *,
    timeout: float = 60,
    **kwargs: Any,
) -> Any:
    """The gateway's answer (an ``httpx.Response``) when it is a success; otherwise print why,
    as ``switchyard COMMAND``, and return None."""
    import httpx

    settings = Settings.from_env()
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    token = token or settings.admin_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, base + path, headers=headers, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        print(f"switchyard {command}: cannot reach {base}: {exc}", file=sys.stderr)
        return None
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        print(f"switchyard {command}: {response.status_code}: {message}", file=sys.stderr)
        return None
    return response


def call(command: str, args: Any, method: str, path: str, **kwargs: Any) -> Any:
    """:func:`gateway_request` with the ``--url`` and ``--token`` of parsed ``args``."""
    return gateway_request(command, args.url, args.token, method, path, **kwargs)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
