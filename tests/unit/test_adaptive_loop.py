"""The allocation loop (app/experiments/adaptive.py) over canned ClickHouse aggregates: phases,
promotion, wall-clock alignment, and updates on config edits."""

from __future__ import annotations

from typing import Any

from app.config.compile import build_snapshot
from app.config.functions import CompiledCampaign
from app.config.holder import ConfigHolder
from app.experiments.adaptive import AdaptiveCampaigns
from app.experiments.results import _STATS_COLUMNS
from app.routing.adaptive import LiveCampaigns
from tests.support.adaptive_config import adaptive_document
from tests.support.run_async import run_async


def _document(**campaign: Any) -> dict[str, Any]:
    return adaptive_document(**({"update_interval_s": 10} | campaign))


def _row(variant: str, n: int, mean: float, **figures: float) -> tuple[Any, ...]:
    values = {"variant": variant, "n": n, "mean": mean, "se": (mean * (1 - mean) / n) ** 0.5}
    values |= figures
    return tuple(values.get(column) for column in _STATS_COLUMNS)


class Rows:
    def __init__(self) -> None:
        self.stats: list[tuple[Any, ...]] = []
        self.calls = 0

    async def __call__(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        self.calls += 1
        return self.stats


CLOSE = {
    "lift_abs": 0.05,
    "cs_low": -0.1,
    "cs_high": 0.2,
    "always_valid_p_value": 0.5,
    "equivalence_margin": 0.01,
}
CLEAR = {
    "lift_abs": 0.5,
    "cs_low": 0.3,
    "cs_high": 0.7,
    "always_valid_p_value": 1e-6,
    "equivalence_margin": 0.01,
}


def _loop(
    **campaign: Any,
) -> tuple[AdaptiveCampaigns, Rows, LiveCampaigns, list[tuple[str, str]], list[float]]:
    state = LiveCampaigns()
    holder = ConfigHolder(build_snapshot(_document(**campaign), campaign_state=state))
    rows, promoted, clock = Rows(), [], [1000.0]

    async def promote(campaign: CompiledCampaign, variant: str, reason: str) -> None:
        promoted.append((campaign.key, variant))

    loop = AdaptiveCampaigns(holder, rows, state, promote, clock=lambda: clock[0])
    return loop, rows, state, promoted, clock


def _campaign(loop: AdaptiveCampaigns) -> CompiledCampaign:
    return loop.config.current.functions["bot"].campaigns["bandit"]


def test_phases_follow_the_data() -> None:
    loop, rows, state, promoted, _ = _loop()
    campaign = _campaign(loop)
    rows.stats = [_row("a", 10, 0.3), _row("b", 10, 0.8)]
    update = run_async(loop.update(campaign))
    assert update.allocation.phase == "equal_split" and state.shares(campaign) == {
        "a": 0.5,
        "b": 0.5,
    }

    rows.stats = [_row("a", 40, 0.30), _row("b", 40, 0.35, **CLOSE)]
    update = run_async(loop.update(campaign))
    assert update.decision.status == "continue"
    assert state.phase(campaign) == "adaptive"
    assert state.shares(campaign)["a"] >= 0.05 and state.shares(campaign)["b"] > 0.5

    rows.stats = [_row("a", 100, 0.3), _row("b", 100, 0.8, **CLEAR)]
    update = run_async(loop.update(campaign))
    assert update.decision.status == "winner" and update.decision.variant == "b"
    assert state.phase(campaign) == "final" and state.shares(campaign)["b"] == 1.0
    assert promoted == []  # on_decision = "hold"
    assert loop.gauge() == {("bot", "bandit", "a"): 0.0, ("bot", "bandit", "b"): 1.0}


def test_promote_on_a_winner_only_once() -> None:
    loop, rows, state, promoted, _ = _loop(on_decision="promote")
    rows.stats = [_row("a", 100, 0.3), _row("b", 100, 0.8, **CLEAR)]
    run_async(loop.update(_campaign(loop)))
    assert promoted == [("bandit", "b")]
    # once the config says so, nothing more is written and new units all go to b
    loop.config.swap(
        build_snapshot(_document(on_decision="promote", promoted="b"), campaign_state=state)
    )
    run_async(loop.update(_campaign(loop)))
    assert promoted == [("bandit", "b")]
    assert state.phase(_campaign(loop)) == "promoted"


def test_updates_are_aligned_to_the_interval_and_follow_edits() -> None:
    loop, rows, _, _, clock = _loop()
    rows.stats = [_row("a", 40, 0.30), _row("b", 40, 0.35, **CLOSE)]
    run_async(loop.update_due())
    assert rows.calls == 1
    clock[0] = 1009.5  # same 10-second slot
    wait = run_async(loop.update_due())
    assert rows.calls == 1 and abs(wait - 0.5) < 1e-9
    clock[0] = 1010.0  # next slot
    run_async(loop.update_due())
    assert rows.calls == 2
    loop.config.swap(build_snapshot(_document(min_share=0.2), campaign_state=loop.state))
    run_async(loop.update_due())  # an edit is applied at once
    assert rows.calls == 3
    assert min(loop.state.shares(_campaign(loop)).values()) >= 0.2


def test_clickhouse_failure_keeps_the_last_allocation() -> None:
    loop, rows, state, _, clock = _loop()
    rows.stats = [_row("a", 40, 0.30), _row("b", 40, 0.35, **CLOSE)]
    run_async(loop.update_due())
    before = state.shares(_campaign(loop))

    async def down(query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise ConnectionError("ClickHouse down")

    loop.rows = down
    clock[0] += 10
    run_async(loop.update_due())
    assert state.shares(_campaign(loop)) == before
