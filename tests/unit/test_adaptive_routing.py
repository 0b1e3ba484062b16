"""Variant choice in adaptive campaigns (app/routing/adaptive.py): first assignments survive
reallocation, new units follow the allocation by their hash, and the fallbacks."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from app.config.compile import Snapshot, build_snapshot
from app.routing.adaptive import LiveCampaigns
from app.routing.variants import choose_variant
from tests.support.adaptive_config import adaptive_document


def _snapshot(state: LiveCampaigns | None, **campaign: Any) -> Snapshot:
    document = adaptive_document(**campaign)
    return build_snapshot(document, campaign_state=state)


def _choose(snapshot: Snapshot, unit: str | None) -> str:
    function = snapshot.functions["bot"]
    units = {"session_id": unit, "user": None, "episode_id": None}
    return choose_variant(
        snapshot, function, pinned=None, ab_campaign=None, units=units
    ).variant.name


def test_units_keep_their_first_variant_when_the_allocation_moves() -> None:
    state = LiveCampaigns()
    snapshot = _snapshot(state)
    campaign = snapshot.functions["bot"].campaigns["bandit"]
    assert state.shares(campaign) == {"a": 0.5, "b": 0.5}
    assert state.phase(campaign) == "equal_split"
    first = {f"u{i}": _choose(snapshot, f"u{i}") for i in range(2000)}
    assert 900 < Counter(first.values())["a"] < 1100
    assert len(state.assignments.pending) == 2000

    state.set_allocation(campaign.id, {"a": 0.05, "b": 0.95}, "adaptive")
    assert all(_choose(snapshot, u) == v for u, v in first.items())
    new = Counter(_choose(snapshot, f"n{i}") for i in range(2000))
    assert 0.93 < new["b"] / 2000 < 0.97
    # a new config version (same campaign id) shares the state
    again = _snapshot(state, description="edited")
    assert all(_choose(again, u) == v for u, v in list(first.items())[:100])


def test_new_units_follow_the_hash_so_replicas_agree() -> None:
    one, two = LiveCampaigns(), LiveCampaigns()
    s1, s2 = _snapshot(one), _snapshot(two)
    campaign_id = s1.functions["bot"].campaigns["bandit"].id
    for state in (one, two):
        state.set_allocation(campaign_id, {"a": 0.3, "b": 0.7}, "adaptive")
    assert all(_choose(s1, f"u{i}") == _choose(s2, f"u{i}") for i in range(500))


def test_stored_assignment_wins_over_the_local_guess() -> None:
    state = LiveCampaigns()
    snapshot = _snapshot(state)
    campaign_id = snapshot.functions["bot"].campaigns["bandit"].id
    guessed = _choose(snapshot, "u1")
    other = "b" if guessed == "a" else "a"
    state.assignments.adopt(campaign_id, "u1", other)  # another replica stored it first
    assert state.assignments.conflicts == 1
    assert _choose(snapshot, "u1") == other


def test_requests_without_a_unit_are_drawn_and_not_stored() -> None:
    state = LiveCampaigns()
    snapshot = _snapshot(state)
    state.set_allocation(
        snapshot.functions["bot"].campaigns["bandit"].id, {"a": 0.0, "b": 1.0}, "final"
    )
    assert {_choose(snapshot, None) for _ in range(50)} == {"b"}
    assert state.assignments.pending == {}


def test_promoted_campaign_sends_new_units_to_the_winner() -> None:
    state = LiveCampaigns()
    before = _snapshot(state)
    first = {f"u{i}": _choose(before, f"u{i}") for i in range(200)}
    promoted = _snapshot(state, promoted="a")
    campaign = promoted.functions["bot"].campaigns["bandit"]
    assert state.shares(campaign) == {"a": 1.0, "b": 0.0}
    assert state.phase(campaign) == "promoted"
    assert {_choose(promoted, f"n{i}") for i in range(100)} == {"a"}
    assert all(_choose(promoted, u) == v for u, v in first.items())


def test_allocation_for_other_variants_is_ignored() -> None:
    state = LiveCampaigns()
    snapshot = _snapshot(state)
    campaign = snapshot.functions["bot"].campaigns["bandit"]
    state.set_allocation(campaign.id, {"a": 0.5, "b": 0.25, "c": 0.25}, "adaptive")
    assert state.shares(campaign) == {"a": 0.5, "b": 0.5}  # stale: the variants changed


def test_without_state_an_adaptive_campaign_hashes_into_an_equal_split() -> None:
    snapshot = _snapshot(None)
    counts = Counter(_choose(snapshot, f"u{i}") for i in range(2000))
    assert counts["a"] / 2000 == pytest.approx(0.5, abs=0.05)
    assert dataclasses.replace(snapshot).campaign_state is None


def test_long_units_are_stored_as_a_digest() -> None:
    state = LiveCampaigns()
    snapshot = _snapshot(state)
    unit = "x" * 1000
    variant = _choose(snapshot, unit)
    ((_, key),) = state.assignments.pending
    assert key.startswith("blake2b:") and len(key) <= 300
    assert _choose(snapshot, unit) == variant
