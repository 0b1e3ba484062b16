"""Who the caller is (the key cache, the bootstrap token, auth off) and the access rules."""

from __future__ import annotations

import pytest

from app.auth.keys import hash_key
from app.auth.principal import (
    ANONYMOUS,
    BOOTSTRAP,
    bearer,
    require_admin,
    require_function,
    require_named_admin,
)
from app.auth.service import AuthService
from app.errors import AuthenticationFailed, PermissionDenied, RateLimited
from app.store.sql.repos import StoredKey


def stored(
    key: str,
    *,
    role: str = "client",
    functions: tuple[str, ...] | None = None,
    rpm_limit: int | None = None,
    revoked: bool = False,
) -> StoredKey:
    return StoredKey(f"id-{key}", f"name-{key}", hash_key(key), role, functions, rpm_limit, revoked)


def service(*keys: StoredKey, token: str | None = None, required: bool = False) -> AuthService:
    auth = AuthService(require_auth=required, admin_token=token)
    auth.load(list(keys))
    return auth


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_auth_off_until_a_key_exists_then_keys_are_required() -> None:
    auth = service()
    assert auth.authenticate(None) is ANONYMOUS
    auth.load([stored("sy-a")])
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(None)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("Bearer sy-wrong")
    principal = auth.authenticate("Bearer sy-a")
    assert (principal.id, principal.name, principal.is_admin) == ("id-sy-a", "name-sy-a", False)
    assert "id-sy-a" in auth.take_used()
    assert auth.take_used() == {}


def test_required_auth_refuses_anonymous_without_any_key() -> None:
    with pytest.raises(AuthenticationFailed):
        service(required=True).authenticate(None)


def test_revoked_keys_are_refused_and_keep_auth_on() -> None:
    auth = service(stored("sy-a", revoked=True))
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("Bearer sy-a")
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(None)


def test_the_bootstrap_token_is_an_admin_whether_or_not_auth_is_on() -> None:
    assert service(token="tok").authenticate("Bearer tok") is BOOTSTRAP
    assert service(stored("sy-a"), token="tok").authenticate("Bearer tok") is BOOTSTRAP
    assert service(token="tok").admin_token_set
    assert not service().admin_token_set


def test_require_admin() -> None:
    require_admin(ANONYMOUS)  # auth off: everyone administers
    require_admin(BOOTSTRAP)
    with pytest.raises(PermissionDenied) as refused:
        require_admin(service(stored("sy-a")).authenticate("Bearer sy-a"))
    assert refused.value.code == "admin_key_required"


def test_named_admin_refuses_anonymous_even_with_auth_off() -> None:
    with pytest.raises(PermissionDenied) as unset:
        require_named_admin(ANONYMOUS, admin_token_set=False)
    assert unset.value.code == "admin_token_unset"
    with pytest.raises(AuthenticationFailed):
        require_named_admin(ANONYMOUS, admin_token_set=True)
    require_named_admin(BOOTSTRAP, admin_token_set=True)
    admin = service(stored("sy-x", role="admin")).authenticate("Bearer sy-x")
    require_named_admin(admin, admin_token_set=False)
    client = service(stored("sy-a")).authenticate("Bearer sy-a")
    with pytest.raises(PermissionDenied):
        require_named_admin(client, admin_token_set=True)


def test_function_scope() -> None:
    scoped = service(stored("sy-a", functions=("bot",))).authenticate("Bearer sy-a")
    require_function(scoped, "bot")
    for function in ("other", None):
        with pytest.raises(PermissionDenied) as refused:
            require_function(scoped, function)
        assert refused.value.code == "out_of_scope" and refused.value.param == "model"
    require_function(ANONYMOUS, None)


def test_authorize_checks_scope_then_spends_the_rate_limit() -> None:
    auth = service(stored("sy-a", functions=("bot",), rpm_limit=2))
    principal = auth.authenticate("Bearer sy-a")
    with pytest.raises(PermissionDenied):
        auth.authorize(principal, "other")  # refused before it spends a token
    auth.authorize(principal, "bot")
    auth.authorize(principal, "bot")
    with pytest.raises(RateLimited) as limited:
        auth.authorize(principal, "bot")
    assert int(limited.value.headers["Retry-After"]) >= 1
