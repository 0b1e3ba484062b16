"""Who is calling, and the access rules every route checks against it.

The caller is resolved from the ``Authorization`` header by
:meth:`app.auth.service.AuthService.authenticate` (the in-memory key cache, the bootstrap
``SWITCHYARD_ADMIN_TOKEN``, or anonymous while auth is off). The checks here are pure: they
take a :class:`Principal` and raise the gateway error the caller sees. Roles, scopes and the
admin SQL rule are described in docs/admin.md and docs/analytics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import AuthenticationFailed, PermissionDenied


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: str  # client | admin
    functions: frozenset[str] | None  # None: every function
    rpm_limit: int | None
    budget_usd: float | None = None  # docs/spend.md, "Budgets"
    budget_period: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# While auth is off (no key was ever created) every caller is this one, with admin rights.
ANONYMOUS = Principal("", "anonymous", "admin", None, None)
BOOTSTRAP = Principal("bootstrap-token", "bootstrap token", "admin", None, None)


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDenied("This endpoint needs an admin key", code="admin_key_required")


def require_named_admin(principal: Principal, *, admin_token_set: bool) -> None:
    """An admin key or the bootstrap token; anonymous is refused even while auth is off.

    Admin SQL reads every prompt and answer ever logged, so it never opens by default.
    """
    require_admin(principal)
    if principal is not ANONYMOUS:
        return
    if not admin_token_set:
        raise PermissionDenied(
            "Admin SQL is disabled: set SWITCHYARD_ADMIN_TOKEN (or create an admin key) and send "
            "'Authorization: Bearer <token>'",
            code="admin_token_unset",
        )
    raise AuthenticationFailed(
        "Missing or wrong admin token: send 'Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>'"
    )


def require_function(principal: Principal, function: str | None) -> None:
    """A key scoped to functions may call only those (and no bare models)."""
    if principal.functions is not None and (
        function is None or function not in principal.functions
    ):
        target = f"function '{function}'" if function else "models outside a function"
        raise PermissionDenied(
            f"This key is not allowed to call {target}", param="model", code="out_of_scope"
        )
