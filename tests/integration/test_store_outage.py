"""The config store unreachable mid-run, on both backends: chat keeps working on the last config
and cached keys, admin writes get 503, /ready says why, and everything recovers without a restart.

PostgreSQL goes away behind a TCP proxy that drops every connection. A SQLite file cannot be
cut off from a process that has it open, so its outage is the file turning unreadable: its
header is blanked ("file is not a database" on every read and write) and put back to recover.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support import stores
from tests.support.gateway import Gateway, copy_demo_config
from tests.support.tcp_proxy import TcpProxy


def wait_for(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


class UnreadableFile:
    """cut() blanks a SQLite file's 100-byte header; restore() puts it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header = b""

    def cut(self) -> None:
        with self.path.open("r+b") as file:
            self.header = file.read(100)
            file.seek(0)
            file.write(bytes(len(self.header)))

    def restore(self) -> None:
        with self.path.open("r+b") as file:
            file.write(self.header)


@pytest.fixture(params=stores.BACKENDS)
def proxied(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Gateway, TcpProxy | UnreadableFile]]:
    url = stores.create(request.param, tmp_path)
    real = make_url(url)
    if request.param == "sqlite":
        outage: TcpProxy | UnreadableFile = UnreadableFile(Path(real.database or ""))
        gateway_url = url
    else:
        outage = proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
        gateway_url = real.set(port=proxy.port).render_as_string(hide_password=False)
    gateway = Gateway(
        copy_demo_config(tmp_path / "variants"),
        tmp_path / "data",
        env={"SWITCHYARD_DATABASE_URL": gateway_url},
    ).start()
    yield gateway, outage
    gateway.stop()
    if isinstance(outage, TcpProxy):
        outage.close()
    stores.drop(url)


def test_outage_and_recovery(proxied) -> None:  # type: ignore[no-untyped-def]
    gateway, outage = proxied
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

    outage.cut()
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

    outage.restore()
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
