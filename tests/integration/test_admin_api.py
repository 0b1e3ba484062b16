"""Admin API, API keys and hot reload on both config stores (SQLite and the real PostgreSQL):
two gateway processes share one store, as replicas would. PostgreSQL wakes the other process
with LISTEN/NOTIFY; on SQLite it finds edits by its one-second poll."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import stores
from tests.support.gateway import Gateway, copy_demo_config

ARGS = {"system_prompt_args": {"customer_name": "Ada"}}


# The reload window is about a second (docs/admin.md); 5 s leaves room on a loaded machine and
# still fails if reloading stopped working.
RELOAD_WINDOW_S = 5.0


def wait_for(predicate, timeout: float = RELOAD_WINDOW_S, step: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


@pytest.fixture(scope="module", params=stores.BACKENDS)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = stores.create(request.param, tmp_path_factory.mktemp("store"))
    yield url
    stores.drop(url)


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[tuple[Gateway, Gateway]]:
    root = tmp_path_factory.mktemp("admin")
    config = copy_demo_config(root / "variants")
    env = {"SWITCHYARD_DATABASE_URL": store_url}
    first = Gateway(config, root / "a", env=env).start()
    second = Gateway(config, root / "b", env=env).start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def admin_key(pair: tuple[Gateway, Gateway]) -> str:
    first, second = pair
    # No key exists yet, so auth is off and the first admin key can be made through the API.
    created = httpx.post(first.url + "/admin/keys", json={"name": "ops", "role": "admin"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    # Both gateways switch auth on within the reload window.
    assert httpx.get(first.url + "/admin/config").status_code == 401  # at once where it was made
    assert wait_for(lambda: httpx.get(second.url + "/admin/config").status_code == 401)
    return key


def h(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def chat(gateway: Gateway, key: str, model: str, **body: object) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        headers=h(key),
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], **ARGS, **body},
    )


def test_edit_reaches_the_other_gateway_within_the_reload_window(pair, admin_key: str) -> None:
    first, second = pair
    current = httpx.get(
        first.url + "/admin/functions/support-bot/variants/friendly", headers=h(admin_key)
    )
    etag = current.headers["etag"]
    started = time.monotonic()
    edit = httpx.patch(
        first.url + "/admin/functions/support-bot/variants/friendly",
        headers=h(admin_key, **{"If-Match": etag, "X-Switchyard-Comment": "louder"}),
        json={"model": "tool-caller", "system_template": "SHOUT AT {{ customer_name }}"},
    )
    assert edit.status_code == 200, edit.text
    new_version = edit.json()["version"]
    assert edit.headers["etag"] == f'"{new_version}"'

    def second_uses_it() -> bool:
        reply = chat(second, admin_key, "support-bot/friendly").json()
        return reply["choices"][0]["message"].get("tool_calls") is not None

    assert wait_for(second_uses_it)
    assert time.monotonic() - started < RELOAD_WINDOW_S + 1
    assert (
        chat(first, admin_key, "support-bot/friendly").json()["choices"][0]["finish_reason"]
        == "tool_calls"
    )

    diff = httpx.get(first.url + "/admin/config/diff", headers=h(admin_key)).json()
    paths = {c["path"]: c for c in diff["changes"]}
    assert paths["functions.support-bot.variants.friendly.model"]["after"] == "tool-caller"
    history = httpx.get(first.url + "/admin/config/versions", headers=h(admin_key)).json()[
        "versions"
    ]
    assert (
        history[0]["version"] == new_version
        and history[0]["comment"] == "louder"
        and history[0]["author"] == "ops"
    )

    # Rollback restores the old behaviour, everywhere.
    rolled = httpx.post(
        first.url + f"/admin/config/rollback/{new_version - 1}", headers=h(admin_key)
    )
    assert rolled.status_code == 200
    assert wait_for(
        lambda: (
            chat(second, admin_key, "support-bot/friendly").json()["choices"][0]["finish_reason"]
            == "stop"
        )
    )


def test_stale_etag_is_409(pair, admin_key: str) -> None:
    first, second = pair
    etag = httpx.get(first.url + "/admin/config", headers=h(admin_key)).headers["etag"]
    ok = httpx.patch(
        second.url + "/admin/functions/support-bot/variants/concise",
        headers=h(admin_key, **{"If-Match": etag}),
        json={"weight": 0.6},
    )
    assert ok.status_code == 200, ok.text
    stale = httpx.patch(
        first.url + "/admin/functions/support-bot/variants/concise",
        headers=h(admin_key, **{"If-Match": etag}),
        json={"weight": 0.9},
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["type"] == "conflict_error"
    assert (
        httpx.get(
            first.url + "/admin/functions/support-bot/variants/concise", headers=h(admin_key)
        ).json()["weight"]
        == 0.6
    )


def test_invalid_edit_is_400_listing_problems_and_changes_nothing(pair, admin_key: str) -> None:
    first, _ = pair
    before = httpx.get(first.url + "/admin/config", headers=h(admin_key)).json()["version"]
    bad = httpx.put(
        first.url + "/admin/functions/support-bot/variants/broken",
        headers=h(admin_key),
        json={"model": "no-such-model", "temperature": 9, "system_template": "{{ oops"},
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid_config"
    keys = {p["key"] for p in error["problems"]}
    assert "functions.support-bot.variants.broken.temperature" in keys
    deleting_used_provider = httpx.delete(first.url + "/admin/providers/demo", headers=h(admin_key))
    assert deleting_used_provider.status_code == 400
    assert any(
        "unknown provider 'demo'" in p["message"]
        for p in deleting_used_provider.json()["error"]["problems"]
    )
    assert httpx.get(first.url + "/admin/config", headers=h(admin_key)).json()["version"] == before
    validate = httpx.post(
        first.url + "/admin/config/validate",
        headers=h(admin_key),
        json={"providers": {"x": {"type": "nope"}}},
    )
    assert validate.status_code == 200 and validate.json()["valid"] is False


def test_crud_on_models_metrics_and_campaigns(pair, admin_key: str) -> None:
    first, _ = pair
    created = httpx.post(
        first.url + "/admin/models/new-model",
        headers=h(admin_key),
        json={"routing": [{"provider": "demo", "name": "x"}]},
    )
    assert created.status_code == 201, created.text
    again = httpx.post(
        first.url + "/admin/models/new-model",
        headers=h(admin_key),
        json={"routing": [{"provider": "demo", "name": "x"}]},
    )
    assert again.status_code == 409
    assert chat(first, admin_key, "new-model").status_code == 200
    metric = httpx.put(
        first.url + "/admin/metrics/csat",
        headers=h(admin_key),
        json={"type": "float", "level": "episode"},
    )
    assert metric.status_code == 200
    campaign = httpx.put(
        first.url + "/admin/functions/support-bot/campaigns/tone-test",
        headers=h(admin_key),
        json={"variants": {"friendly": 1}, "status": "paused"},
    )
    assert campaign.status_code == 200, campaign.text
    reply = chat(first, admin_key, "support-bot").json()
    assert reply["ab_campaign"] is None
    assert (
        httpx.delete(first.url + "/admin/models/new-model", headers=h(admin_key)).status_code == 200
    )
    assert httpx.get(first.url + "/admin/models/new-model", headers=h(admin_key)).status_code == 404


def test_keys_scopes_and_limits(pair, admin_key: str, store_url: str) -> None:
    first, second = pair
    assert httpx.get(first.url + "/admin/config").status_code == 401
    assert httpx.get(first.url + "/admin/config", headers=h("sy-wrong")).status_code == 401
    no_key = httpx.post(
        first.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    )
    assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "authentication_error"

    client = httpx.post(
        first.url + "/admin/keys",
        headers=h(admin_key),
        json={"name": "app", "functions": ["support-bot"], "rpm_limit": 3},
    ).json()
    key = client["key"]
    assert wait_for(lambda: chat(second, key, "support-bot").status_code == 200)
    assert httpx.get(first.url + "/admin/config", headers=h(key)).status_code == 403
    for elsewhere in ("extract-invoice", "gpt-4o-mini"):  # another function; a bare model
        scoped = chat(first, key, elsewhere)
        assert scoped.status_code == 403, (elsewhere, scoped.text)
        assert scoped.json()["error"]["type"] == "permission_error"
    # A full bucket of 3 on this process (the 403s took nothing): exactly 3 pass, then 429 with
    # Retry-After ≈ 60 s / 3 (less the few seconds a loaded machine may take to get here).
    statuses = [chat(first, key, "support-bot").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = chat(first, key, "support-bot")
    assert limited.status_code == 429
    assert 60 / 3 - 5 <= int(limited.headers["retry-after"]) <= 60 / 3

    revoked = httpx.delete(first.url + f"/admin/keys/{client['id']}", headers=h(admin_key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert wait_for(lambda: chat(second, key, "support-bot").status_code == 401)

    dump = stores.dump(store_url, "api_keys", "audit_log")
    assert client["id"] in dump  # the rows are there: only the secrets are not
    assert key not in dump and admin_key not in dump


def test_rollback_to_an_unknown_version_is_404(pair, admin_key: str) -> None:
    first, _ = pair
    before = httpx.get(first.url + "/admin/config", headers=h(admin_key)).json()["version"]
    missing = httpx.post(first.url + "/admin/config/rollback/99999", headers=h(admin_key))
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["param"] == "version"
    assert httpx.get(first.url + "/admin/config", headers=h(admin_key)).json()["version"] == before


def test_audit_records_the_actor(pair, admin_key: str) -> None:
    first, _ = pair
    auditor = httpx.post(
        first.url + "/admin/keys", headers=h(admin_key), json={"name": "auditor", "role": "admin"}
    ).json()
    current = httpx.get(first.url + "/admin/config", headers=h(admin_key)).headers["etag"]
    edit = httpx.patch(
        first.url + "/admin/functions/support-bot/variants/concise",
        headers=h(auditor["key"], **{"If-Match": current}),
        json={"weight": 0.5},
    )
    assert edit.status_code == 200, edit.text
    entries = httpx.get(first.url + "/admin/audit", headers=h(admin_key)).json()["entries"]
    created = [e for e in entries if e["action"] == "key.create" and e["target"] == auditor["id"]]
    assert [e["actor"] for e in created] == ["ops"]  # made with the "ops" key
    written = [
        e
        for e in entries
        if e["action"] == "config.write" and e["detail"]["version"] == edit.json()["version"]
    ]
    assert [e["actor"] for e in written] == ["auditor"]  # the edit's author, not the key's maker


@pytest.mark.parametrize(
    ("method", "path", "param", "body"),
    [
        ("GET", "/admin/config/versions?limit=99999999999999999999999", "limit", None),
        ("GET", "/admin/audit?limit=-6808502029476575618007040", "limit", None),
        ("GET", "/admin/audit?limit=0", "limit", None),
        ("GET", "/admin/config/versions/112921309135490383872", "version", None),
        ("GET", "/admin/config/versions/2147483648", "version", None),
        ("GET", "/admin/config/diff?from_version=9223372036854775808", "from_version", None),
        ("POST", "/admin/config/rollback/112921309135490383872", "version", None),
        ("POST", "/admin/keys", "rpm_limit", {"name": "big", "rpm_limit": 2**40}),
    ],
)
def test_out_of_range_integers_are_400_not_an_outage(
    pair, admin_key: str, method: str, path: str, param: str, body: dict | None
) -> None:
    """An integer the store's driver cannot hold is bad input, checked at the edge; the store
    is not reported unreachable."""
    first, _ = pair
    response = httpx.request(method, first.url + path, headers=h(admin_key), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert httpx.get(first.url + "/ready").status_code == 200


def test_an_if_match_that_is_no_version_is_400(pair, admin_key: str) -> None:
    first, _ = pair
    for tag in ['"1e3"', '"' + "9" * 5000 + '"']:
        response = httpx.patch(
            first.url + "/admin/metrics/thumbs_up",
            headers=h(admin_key, **{"If-Match": tag}),
            json={"type": "boolean"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "If-Match"


def test_revoking_every_key_keeps_auth_on(pair, admin_key: str) -> None:
    """Last in the module: it leaves no working key behind."""
    first, second = pair
    keys = httpx.get(first.url + "/admin/keys", headers=h(admin_key)).json()["keys"]
    mine = next(k for k in keys if k["name"] == "ops" and not k["revoked_at"])
    for listed in [k for k in keys if k["id"] != mine["id"]] + [mine]:  # our own key last
        revoked = httpx.delete(first.url + f"/admin/keys/{listed['id']}", headers=h(admin_key))
        assert revoked.status_code == 200, revoked.text
    for gateway in (first, second):
        assert wait_for(lambda g=gateway: chat(g, admin_key, "support-bot").status_code == 401)
        anonymous = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "support-bot", "messages": [{"role": "user", "content": "x"}], **ARGS},
        )
        assert anonymous.status_code == 401, anonymous.text  # not open to all again
        assert httpx.get(gateway.url + "/admin/config").status_code == 401
