"""PostgreSQL unreachable mid-run: chat keeps working on the last config and cached keys,
admin writes get 503, /ready says why, and everything recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support import postgres
from tests.support.gateway import Gateway, copy_demo_config
from tests.support.tcp_proxy import TcpProxy


def wait_for(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


@pytest.fixture
def proxied(tmp_path) -> Iterator[tuple[Gateway, TcpProxy]]:  # type: ignore[no-untyped-def]
    url = postgres.create_database()
    real = make_url(url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
    gateway = Gateway(
        copy_demo_config(tmp_path / "variants"),
        tmp_path / "data",
        env={"SWITCHYARD_DATABASE_URL": via_proxy},
    ).start()
    yield gateway, proxy
    gateway.stop()
    proxy.close()
    postgres.drop_database(url)


def test_outage_and_recovery(proxied) -> None:  # type: ignore[no-untyped-def]
    gateway, proxy = proxied
    key = httpx.post(gateway.url + "/admin/keys", json={"name": "ops", "role": "admin"}).json()[
        "key"
    ]
    auth = {"Authorization": f"Bearer {key}"}
    assert wait_for(lambda: httpx.get(gateway.url + "/admin/config").status_code == 401)
    body = {
        "model": "support-bot",
        "messages": [{"role": "user", "content": "hi"}],
        "system_prompt_args": {"customer_name": "A"},
    }

    proxy.cut()
    for _ in range(5):
        reply = httpx.post(
            gateway.url + "/v1/chat/completions", json=body, headers=auth, timeout=10
        )
        assert reply.status_code == 200, reply.text
    write = httpx.patch(
        gateway.url + "/admin/functions/support-bot/variants/concise",
        json={"weight": 0.7},
        headers=auth,
        timeout=15,
    )
    assert write.status_code == 503, write.text
    assert write.json()["error"]["code"] == "config_store_unavailable"
    ready = httpx.get(gateway.url + "/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["checks"]["config_store"]["ok"] is False

    proxy.restore()
    assert wait_for(
        lambda: httpx.get(gateway.url + "/ready", timeout=10).json()["checks"]["config_store"]["ok"]
    )
    write = httpx.patch(
        gateway.url + "/admin/functions/support-bot/variants/concise",
        json={"weight": 0.7},
        headers=auth,
        timeout=15,
    )
    assert write.status_code == 200, write.text
