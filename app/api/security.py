"""The caller of a route and the guards that check it, on Litestar's idioms.

Every non-hot route gets the caller from one place, :func:`principal_of`, which resolves it
with :meth:`AuthService.authenticate` (the function the raw chat handler calls too) and keeps
it on the connection, so a guard and the ``principal`` dependency resolve it once per request.
The rules themselves live in :mod:`app.auth.principal`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler

from app.api.services import services_of
from app.auth.principal import Principal, require_admin, require_named_admin

Connection = ASGIConnection[Any, Any, Any, Any]


def principal_of(connection: Connection) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        auth = services_of(connection.app.state).auth
        principal = auth.authenticate(connection.headers.get("authorization"))
        connection.scope["user"] = principal
    return principal


def authenticated(connection: Connection, _: BaseRouteHandler) -> None:
    """Any valid key (or anyone while auth is off)."""
    principal_of(connection)


def requires_admin(connection: Connection, _: BaseRouteHandler) -> None:
    """An admin key or the bootstrap token (or anyone while auth is off)."""
    require_admin(principal_of(connection))


def requires_named_admin(connection: Connection, _: BaseRouteHandler) -> None:
    """An admin key or the bootstrap token, even while auth is off (admin SQL)."""
    auth = services_of(connection.app.state).auth
    require_named_admin(principal_of(connection), admin_token_set=auth.admin_token_set)


def _provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


PRINCIPAL_DEPENDENCY: dict[str, Provide] = {
    "principal": Provide(_provide_principal, sync_to_thread=False)
}
