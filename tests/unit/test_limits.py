"""Input limits: ceilings on the Structs, lowered (never raised) by settings."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest
from app.settings import Settings
from app.wire.limits import MAX_N
from app.wire.request import decode_chat_request

BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": %d}'


def test_settings_lower_the_limits_and_cannot_raise_them() -> None:
    assert Settings.from_env({"SWITCHYARD_MAX_N": "4"}).input_limits.n == 4
    with pytest.raises(SystemExit, match="max_n must be between 1 and 128"):
        Settings.from_env({"SWITCHYARD_MAX_N": str(MAX_N + 1)})
    with pytest.raises(SystemExit):
        Settings.from_env({"SWITCHYARD_MAX_TAGS": "0"})


def test_n_is_checked_against_the_ceiling_and_the_setting() -> None:
    assert decode_chat_request(BODY % MAX_N).n == MAX_N
    with pytest.raises(InvalidRequest) as exc:
        decode_chat_request(BODY % (MAX_N + 1))
    assert exc.value.param == "n"
    limits = Settings.from_env({"SWITCHYARD_MAX_N": "4"}).input_limits
    with pytest.raises(InvalidRequest) as exc:
        decode_chat_request(BODY % 5, limits)
    assert exc.value.param == "n" and "at most 4" in exc.value.message
