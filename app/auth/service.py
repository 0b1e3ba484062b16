"""Authentication and authorisation without touching the database on the request path.

The key cache is refreshed by the config reloader (about once a second), so a revoked key
stops working within that window and keeps working if the database is briefly unreachable.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from app.auth.budget import Budgets
from app.auth.keys import hash_key
from app.auth.principal import ANONYMOUS, BOOTSTRAP, Principal, bearer, require_function
from app.auth.ratelimit import RateLimiter
from app.config.compile import Snapshot
from app.errors import AuthenticationFailed, RateLimited
from app.store.sql.repos import StoredKey


class AuthService:
    def __init__(self, *, require_auth: bool, admin_token: str | None) -> None:
        self._require_auth = require_auth
        self._admin_token = admin_token
        self._by_hash: dict[str, Principal] = {}
        self._by_id: dict[str, Principal] = {}
        self._loaded: list[StoredKey] | None = None
        self._any_key = False
        self._limiter = RateLimiter()
        self.budgets = Budgets()
        self.used: dict[str, datetime] = {}

    @property
    def enabled(self) -> bool:
        """On when required, or once any key was ever created (revoking all keys keeps it on)."""
        return self._require_auth or self._any_key

    def load(self, keys: list[StoredKey]) -> None:
        if keys == self._loaded:  # the reloader calls this every second; usually nothing changed
            return
        self._loaded = keys
        self._any_key = bool(keys)
        self._by_hash = {
            k.key_hash: Principal(
                k.id,
                k.name,
                k.role,
                frozenset(k.functions) if k.functions is not None else None,
                k.rpm_limit,
                k.budget_usd,
                k.budget_period,
            )
            for k in keys
            if not k.revoked
        }
        self._by_id = {principal.id: principal for principal in self._by_hash.values()}

    @property
    def admin_token_set(self) -> bool:
        return bool(self._admin_token)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of every route, the raw chat handler included."""
        token = bearer(authorization)
        if token and self._admin_token and hmac.compare_digest(token, self._admin_token):
            return BOOTSTRAP
        if not self.enabled:
            return ANONYMOUS
        if not token:
            raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>'")
        principal = self._by_hash.get(hash_key(token))
        if principal is None:
            raise AuthenticationFailed("Invalid or revoked API key")
        self.used[principal.id] = datetime.now(UTC)
        return principal

    def authorize(self, principal: Principal, function: str | None) -> None:
        """The key's function scope, then its rate limit (which spends a token)."""
        require_function(principal, function)
        if principal.rpm_limit:
            wait = self._limiter.wait_time(principal.id, principal.rpm_limit)
            if wait:
                raise RateLimited(
                    f"Rate limit of {principal.rpm_limit} requests per minute exceeded for this key",
                    headers={"Retry-After": str(wait)},
                )

    def check_budgets(self, principal: Principal, function: str | None, snapshot: Snapshot) -> None:
        """The key's budget, then the function's (429 ``budget_exceeded`` once spent). Reads
        this process's tallies only: never the database."""
        budgets = self.budgets
        if principal.budget_usd is not None:
            budgets.check(
                "key",
                principal.id,
                f"API key '{principal.name}'",
                principal.budget_usd,
                principal.budget_period,
            )
        compiled = snapshot.functions.get(function) if function else None
        if compiled is not None and compiled.config.budget_usd is not None:
            budgets.check(
                "function",
                compiled.name,
                f"function '{compiled.name}'",
                compiled.config.budget_usd,
                compiled.config.budget_period,
            )

    def principal_by_id(self, key_id: str) -> Principal | None:
        """The active key with this id (or the bootstrap token's principal while it is set)."""
        if key_id == BOOTSTRAP.id:
            return BOOTSTRAP if self._admin_token else None
        return self._by_id.get(key_id)

    def take_used(self) -> dict[str, datetime]:
        used, self.used = self.used, {}
        return used
