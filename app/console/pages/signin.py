"""Sign-in and sign-out. Only admin keys get in; a client key is refused with a clear message."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.auth.principal import ANONYMOUS
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    ConsoleUser,
    check_csrf,
    cleared,
    login_cookie,
    safe_next,
    session_cookie,
    to_sign_in,
)
from app.errors import GatewayError


def _sign_in_page(
    request: Request[Any, Any, Any], *, error: str | None = None, status: int = 200
) -> Response[Any]:
    token = secrets.token_urlsafe(24)
    response = page(
        "login.html",
        status,
        login_token=token,
        next=safe_next(request.query_params.get("next")),
        message=request.query_params.get("message"),
        error=error,
    )
    response.cookies.append(login_cookie(request, token))
    return response


@get("/login", include_in_schema=False)
async def sign_in_form(request: Request[Any, Any, Any]) -> Response[Any]:
    return _sign_in_page(request)


@post("/login", include_in_schema=False)
async def sign_in(request: Request[Any, Any, Any], console: ConsoleContext) -> Response[Any]:
    form = await request.form()
    sent, expected = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        return _sign_in_page(request, error="The sign-in form expired; try again.", status=403)
    key = form.get("api_key")
    key = key.strip() if isinstance(key, str) else ""
    if not key:
        return _sign_in_page(request, error="Enter an admin API key.", status=400)
    try:
        principal = console.auth.authenticate(f"Bearer {key}")
    except GatewayError:
        return _sign_in_page(
            request, error="That API key is not valid (or was revoked).", status=401
        )
    if principal is ANONYMOUS:
        return _sign_in_page(
            request,
            error="Auth is off, so there are no admin keys yet: create one with "
            "'switchyard keys create --admin' and sign in with it.",
            status=403,
        )
    if not principal.is_admin:
        return _sign_in_page(
            request,
            error="This is a client key. The console needs an admin key.",
            status=403,
        )
    token, _ = await console.sessions.start(principal)
    next_path = form.get("next")
    response: Response[Any] = Redirect(
        safe_next(next_path if isinstance(next_path, str) else None), status_code=303
    )
    response.cookies.extend([session_cookie(request, token), cleared(LOGIN_COOKIE)])
    return response


@post("/logout", include_in_schema=False)
async def sign_out(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    await console.sessions.end(request)
    response = to_sign_in("/ui/", "You are signed out.")
    response.cookies.append(cleared(COOKIE))
    return response


@get("/", include_in_schema=False)
async def home(user: ConsoleUser) -> Response[Any]:
    return Redirect("/ui/functions", status_code=303)


HANDLERS = [sign_in_form, sign_in, sign_out, home]
