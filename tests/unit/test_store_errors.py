"""Only connection-level failures of the config store count as "unreachable"."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from app.store.sql.engine import is_unreachable


def _wrapped(
    orig: BaseException, kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError
) -> BaseException:
    return kind("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        OSError("network is unreachable"),
        _wrapped(ConnectionResetError(), sa_exc.OperationalError),
        _wrapped(Exception("closed"), sa_exc.InterfaceError),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_connection_failures_are_unreachable(exc: BaseException) -> None:
    assert is_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        OverflowError("int too big to convert"),
        _wrapped(OverflowError("value out of int32 range")),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("bad"),
        KeyError("x"),
    ],
)
def test_bad_input_and_bugs_are_not_outages(exc: BaseException) -> None:
    assert not is_unreachable(exc)


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("while fetching") from inner
    except RuntimeError as outer:
        assert is_unreachable(outer)


@pytest.mark.parametrize(
    "message",
    ["file is not a database", "database disk image is malformed", "unable to open database file"],
)
def test_an_unusable_sqlite_file_is_an_outage(message: str) -> None:
    import sqlite3

    wrapped = sa_exc.DatabaseError("SELECT 1", {}, sqlite3.DatabaseError(message))
    assert is_unreachable(wrapped)


def test_a_sqlite_constraint_violation_is_not_an_outage() -> None:
    import sqlite3

    violation = sa_exc.IntegrityError(
        "INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")
    )
    assert not is_unreachable(violation)
