"""Console sessions: who is signed in, and the CSRF token every form must carry.

The cookie holds 32 random bytes and nothing else; the store keeps only its SHA-256 with the
key id and the session's CSRF token (synchronizer-token pattern). The cookie is HttpOnly,
SameSite=Strict and scoped to ``/ui``; it is Secure whenever the request came over HTTPS. Each
page checks that the key behind the session is still an active admin key, so revoking the key
ends its console sessions within the key cache's refresh (about a second).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

from app.auth.principal import Principal
from app.store.sql.sessions import SessionRepository

COOKIE = "switchyard_console"
LOGIN_COOKIE = "switchyard_console_login"  # double-submit token for the sign-in form
SESSION_TTL = timedelta(hours=12)


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""

    def __init__(self, next_path: str = "/ui/") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfFailed(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    key_id: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class ConsoleSessions:
    """What the console needs to know about sessions: the store, and how to find the admin
    behind a key id (the in-memory key cache)."""

    store: SessionRepository
    principal_by_id: Callable[[str], Principal | None]

    async def start(self, principal: Principal) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        await self.store.create(token, key_id=principal.id, csrf_token=csrf_token, ttl=SESSION_TTL)
        return token, csrf_token

    async def user(self, request: Request[Any, Any, Any]) -> ConsoleUser:
        token = request.cookies.get(COOKIE)
        if not token:
            raise SignInRequired(_next_path(request))
        session = await self.store.get(token)
        principal = self.principal_by_id(session.key_id) if session else None
        if session is None or principal is None or not principal.is_admin:
            raise SignInRequired(_next_path(request))
        return ConsoleUser(principal.name, principal.id, session.csrf_token)

    async def end(self, request: Request[Any, Any, Any]) -> None:
        token = request.cookies.get(COOKIE)
        if token:
            await self.store.delete(token)


async def check_csrf(request: Request[Any, Any, Any], user: ConsoleUser) -> None:
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, user.csrf_token):
        raise CsrfFailed


def session_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    return _cookie(request, COOKIE, token, int(SESSION_TTL.total_seconds()))


def login_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    return _cookie(request, LOGIN_COOKIE, token, 3600)


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


def cleared(key: str) -> Cookie:
    return Cookie(key=key, value="", path="/ui", max_age=0, httponly=True, samesite="strict")


def to_sign_in(next_path: str, message: str | None = None) -> Response[None]:
    target = f"/ui/login?next={quote(next_path, safe='/')}"
    if message:
        target += f"&message={quote(message)}"
    return Redirect(target, status_code=303)


def safe_next(value: str | None) -> str:
    """Only console paths: an open redirect after sign-in would be a phishing aid."""
    if value and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return "/ui/"


def _next_path(request: Request[Any, Any, Any]) -> str:
    path = request.url.path
    return safe_next(path + (f"?{request.url.query}" if request.url.query else ""))
