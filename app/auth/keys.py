"""Key material. Keys are 256 random bits, so a plain SHA-256 is enough to store them safely
(a slow password hash defends low-entropy secrets, which these are not) and keeps the
per-request check at about a microsecond."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from app.auth.budget import check_budget_values
from app.errors import InvalidRequest

if TYPE_CHECKING:
    from app.store.sql.repos import KeyInfo, KeyRepository

KEY_PREFIX = "sy-"
VISIBLE_CHARS = 11  # "sy-" + 8 characters, shown in listings to tell keys apart


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_CHARS]


async def create_api_key(
    repo: KeyRepository,
    *,
    name: str,
    role: str,
    functions: list[str] | None,
    rpm_limit: int | None,
    actor: str,
    budget_usd: float | None = None,
    budget_period: str | None = None,
) -> tuple[KeyInfo, str]:
    """Create a key and return it in plaintext, the only time it exists outside its owner's hands."""
    if role not in ("client", "admin"):
        raise InvalidRequest("role must be 'client' or 'admin'", param="role")
    if rpm_limit is not None and rpm_limit < 1:
        raise InvalidRequest("rpm_limit must be at least 1", param="rpm_limit")
    check_budget_values(budget_usd, budget_period)
    if budget_usd is not None and budget_period is None:
        budget_period = "month"
    key = generate_key()
    info = await repo.create(
        name=name,
        prefix=visible_prefix(key),
        key_hash=hash_key(key),
        role=role,
        functions=functions,
        rpm_limit=rpm_limit,
        actor=actor,
        budget_usd=budget_usd,
        budget_period=budget_period,
    )
    return info, key
