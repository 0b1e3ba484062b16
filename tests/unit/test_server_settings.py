"""The server settings ``serve`` reads: the interface granian calls and the GIL switch interval
(docs/performance.md, "RSGI for the chat endpoint" and "The GIL switch interval")."""

from __future__ import annotations

import pytest

from app.settings import Settings


def test_defaults_are_rsgi_mixed_and_a_one_millisecond_switch_interval() -> None:
    settings = Settings.from_env({})
    assert settings.server_interface == "rsgi"
    assert settings.gil_switch_interval_ms == 1.0
    assert settings.http_client == "mixed"
    chosen = Settings.from_env(
        {"SWITCHYARD_SERVER_INTERFACE": "asgi", "SWITCHYARD_GIL_SWITCH_INTERVAL_MS": "5"}
    )
    assert (chosen.server_interface, chosen.gil_switch_interval_ms) == ("asgi", 5.0)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SWITCHYARD_SERVER_INTERFACE", "wsgi", "server_interface"),
        ("SWITCHYARD_GIL_SWITCH_INTERVAL_MS", "0", "gil_switch_interval_ms"),
        ("SWITCHYARD_GIL_SWITCH_INTERVAL_MS", "-1", "gil_switch_interval_ms"),
        ("SWITCHYARD_GIL_SWITCH_INTERVAL_MS", "1000", "gil_switch_interval_ms"),
    ],
)
def test_a_value_it_cannot_take_is_refused_by_name(name: str, value: str, named: str) -> None:
    with pytest.raises((ValueError, SystemExit)) as refused:
        Settings.from_env({name: value})
    assert named in str(refused.value)
