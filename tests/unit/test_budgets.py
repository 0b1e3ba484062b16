"""Budget tallies: buckets, resets, the 429, and flushing that never loses or double-counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.auth.budget import (
    BudgetExceeded,
    Budgets,
    bucket,
    check_budget_values,
    resets_at,
)
from app.errors import InvalidRequest
from app.store.sql.repos import CounterKey


class FakeRepo:
    """A shared store: totals summed over every process that flushes into it."""

    def __init__(self) -> None:
        self.rows: dict[CounterKey, float] = {}
        self.fail = False

    async def add_and_read(
        self, increments: dict[CounterKey, float], buckets: list[str]
    ) -> dict[CounterKey, float]:
        if self.fail:
            raise OSError("database down")
        for key, amount in increments.items():
            self.rows[key] = self.rows.get(key, 0.0) + amount
        return {k: v for k, v in self.rows.items() if k[2] in buckets}


AT = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)


def test_buckets_and_resets() -> None:
    assert bucket("day", AT) == "day:2026-12-31"
    assert bucket("month", AT) == "month:2026-12"
    assert bucket("total", AT) == "total"
    assert resets_at("day", AT) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", AT) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", datetime(2026, 3, 5, tzinfo=UTC)) == datetime(2026, 4, 1, tzinfo=UTC)
    assert resets_at("total", AT) is None


@pytest.mark.parametrize(
    ("budget", "period", "param"),
    [
        (0.0, None, "budget_usd"),
        (-1.0, "day", "budget_usd"),
        (float("nan"), None, "budget_usd"),
        (float("inf"), None, "budget_usd"),
        (5.0, "week", "budget_period"),
        (None, "day", "budget_period"),
    ],
)
def test_bad_budget_values(budget: float | None, period: str | None, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_budget_values(budget, period)
    assert caught.value.param == param


def test_refused_once_spent_with_reset_time() -> None:
    budgets = Budgets()
    now = datetime.now(UTC).timestamp()
    budgets.add("k1", "f", 0.6, now)
    budgets.check("key", "k1", "API key 'ops'", 1.0, "day")  # 0.6 < 1.0
    budgets.add("k1", "f", 0.6, now)
    with pytest.raises(BudgetExceeded) as caught:
        budgets.check("key", "k1", "API key 'ops'", 1.0, "day")
    error = caught.value
    assert (error.status, error.type, error.code) == (429, "rate_limit_error", "budget_exceeded")
    assert "API key 'ops'" in error.message and "$1 per day" in error.message
    assert "resets at" in error.message and int(error.headers["Retry-After"]) > 0
    with pytest.raises(BudgetExceeded) as total:
        budgets.check("function", "f", "function 'f'", 1.0, "total")
    assert "never resets" in total.value.message and "Retry-After" not in total.value.headers
    budgets.check("key", "other", "API key 'other'", 1.0, "day")  # another key is unaffected


def test_flush_shares_totals_and_survives_failure() -> None:
    repo = FakeRepo()
    first, second = Budgets(), Budgets()
    now = datetime.now(UTC).timestamp()
    first.add("k", "", 1.0, now)
    second.add("k", "", 2.0, now)
    repo.fail = True
    with pytest.raises(OSError):
        asyncio.run(first.flush(repo))  # type: ignore[arg-type]
    assert first.spent("key", "k", "total") == 1.0  # still counted while unflushed
    repo.fail = False
    first.add("k", "", 0.5, now)
    asyncio.run(first.flush(repo))  # type: ignore[arg-type]
    asyncio.run(second.flush(repo))  # type: ignore[arg-type]
    assert repo.rows[("key", "k", "total")] == 3.5  # nothing lost, nothing counted twice
    assert second.spent("key", "k", "day") == 3.5
    asyncio.run(first.flush(repo))  # type: ignore[arg-type]
    assert first.spent("key", "k", "month") == 3.5
