"""Versions: the config history, a diff of any two versions, and rollback (as a new version)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError
from app.runtime import admin as edits

HISTORY_LIMIT = 200


@get("/versions", include_in_schema=False)
async def versions(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    history = await console.config.history(HISTORY_LIMIT)
    return page(
        "versions.html",
        user=user,
        section="Versions",
        versions=history,
        message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )


@get("/versions/diff", include_in_schema=False)
async def version_diff(
    console: ConsoleContext, user: ConsoleUser, from_version: int, to_version: int
) -> Response[Any]:
    try:
        _, old = await console.config.version(from_version)
        _, new = await console.config.version(to_version)
    except GatewayError as exc:
        return page("error.html", exc.status, user=user, section="Versions", error=exc.message)
    changes = edits.diff(old, new)
    return page(
        "diff.html",
        user=user,
        section="Versions",
        from_version=from_version,
        to_version=to_version,
        changes=changes,
    )


@post("/versions/{version:int}/rollback", include_in_schema=False)
async def rollback(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, version: int
) -> Response[Any]:
    await check_csrf(request, user)
    try:
        info = await console.config.rollback(version, author=user.name, if_match=None)
    except GatewayError as exc:
        return Redirect(f"/ui/versions?error={quote(exc.message)}", status_code=303)
    return Redirect(
        f"/ui/versions?message={quote(f'Rolled back to version {version}: now version {info.version}.')}",
        status_code=303,
    )


HANDLERS = [versions, version_diff, rollback]
