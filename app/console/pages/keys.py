"""Keys: list, create (the key is shown once, in that response only), revoke."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.auth.keys import create_api_key
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError


async def _keys_page(
    console: ConsoleContext, user: ConsoleUser, *, status: int = 200, **extra: Any
) -> Response[Any]:
    keys = await console.config.guard(console.keys.list())
    return page("keys.html", status, user=user, section="Keys", keys=keys, **extra)


@get("/keys", include_in_schema=False)
async def keys(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    return await _keys_page(console, user, message=request.query_params.get("message"))


@post("/keys", include_in_schema=False)
async def create_key(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "client")
    functions = [f.strip() for f in str(form.get("functions") or "").split(",") if f.strip()]
    rpm_text = str(form.get("rpm_limit") or "").strip()
    budget_text = str(form.get("budget_usd") or "").strip()
    period = str(form.get("budget_period") or "").strip() or None
    problem = _key_problem(name, role, rpm_text) or _budget_problem(budget_text)
    if problem:
        return await _keys_page(console, user, status=400, error=problem)
    try:
        info, key = await console.config.guard(
            create_api_key(
                console.keys,
                name=name,
                role=role,
                functions=functions or None,
                rpm_limit=int(rpm_text) if rpm_text else None,
                actor=user.name,
                budget_usd=float(budget_text) if budget_text else None,
                budget_period=period if budget_text else None,
            )
        )
        await console.refresh()
    except GatewayError as exc:
        return await _keys_page(console, user, status=exc.status, error=exc.message)
    return await _keys_page(console, user, status=201, created=info, created_key=key)


def _key_problem(name: str, role: str, rpm_text: str) -> str | None:
    if not name:
        return "Give the key a name."
    if role not in ("client", "admin"):
        return "Role must be client or admin."
    if rpm_text and (not rpm_text.isdigit() or not 0 < int(rpm_text) <= 1_000_000):
        return "Requests per minute must be a whole number from 1 to 1,000,000."
    return None


def _budget_problem(budget_text: str) -> str | None:
    if not budget_text:
        return None
    try:
        budget = float(budget_text)
    except ValueError:
        return "The budget must be an amount in USD, like 25 or 2.50."
    if not 0 < budget < float("inf"):
        return "The budget must be more than 0 USD."
    return None


@post("/keys/{key_id:str}/revoke", include_in_schema=False)
async def revoke_key(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, key_id: str
) -> Response[Any]:
    await check_csrf(request, user)
    info = await console.config.guard(console.keys.revoke(key_id, actor=user.name))
    await console.refresh()
    message = f"Revoked key {info.name}." if info else f"No key {key_id}."
    return Redirect(f"/ui/keys?message={quote(message)}", status_code=303)


HANDLERS = [keys, create_key, revoke_key]
