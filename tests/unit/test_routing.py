"""Model-name resolution (README, "Model names") and sticky variant choice (docs/experiments.md)."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from app.config.compile import build_snapshot
from app.errors import InvalidRequest, NotFound
from app.routing.resolve import resolve_target
from app.routing.variants import choose_variant, unit_fraction

DOCUMENT = {
    "providers": {"p1": {"type": "dummy"}, "p2": {"type": "dummy"}},
    "models": {
        "m": {
            "routing": [
                {"provider": "p1", "name": "m-on-p1"},
                {"provider": "p2", "name": "m-on-p2"},
            ]
        },
        "org/model": {"routing": [{"provider": "p1", "name": "x"}]},
    },
    "metrics": {},
    "functions": {
        "bot": {
            "variants": {"a": {"model": "m", "weight": 3}, "b": {"model": "m@p2", "weight": 1}},
            "campaigns": {"exp": {"variants": {"a": 0.5, "b": 0.5}, "sticky_by": "session_id"}},
        },
        "plain": {"variants": {"x": {"model": "m", "weight": 1}, "y": {"model": "m", "weight": 0}}},
    },
}


@pytest.fixture(scope="module")
def snapshot():
    return build_snapshot(DOCUMENT)


def test_resolution_order(snapshot) -> None:
    assert resolve_target(snapshot, "tensorzero::function_name::bot").function.name == "bot"
    assert [r.model for r in resolve_target(snapshot, "tensorzero::model_name::m").routes] == [
        "m-on-p1",
        "m-on-p2",
    ]
    pinned = resolve_target(snapshot, "bot/b")
    assert pinned.function.name == "bot" and pinned.pinned_variant == "b"
    assert resolve_target(snapshot, "bot").function.name == "bot"
    assert [r.provider_name for r in resolve_target(snapshot, "m@p2").routes] == ["p2"]
    assert [r.model for r in resolve_target(snapshot, "raw-name@p1").routes] == ["raw-name"]
    assert [r.model for r in resolve_target(snapshot, "m").routes] == ["m-on-p1", "m-on-p2"]
    # A slash in a model name is not a function/variant pin when the prefix is not a function.
    assert [r.model for r in resolve_target(snapshot, "org/model").routes] == ["x"]


@pytest.mark.parametrize(
    "name",
    [
        "nope",
        "bot/zzz",
        "tensorzero::function_name::nope",
        "tensorzero::model_name::nope",
        "m@nowhere",
    ],
)
def test_unknown_names_are_404(snapshot, name: str) -> None:
    with pytest.raises(NotFound):
        resolve_target(snapshot, name)


def test_variant_routes_are_resolved_at_load(snapshot) -> None:
    assert [r.provider_name for r in snapshot.functions["bot"].variants["b"].routes] == ["p2"]


def blake2b_fraction(campaign: str, unit: str) -> float:
    """docs/experiments.md's rule, restated here: blake2b-64 of ``campaign NUL unit``, big-endian,
    over 2**64."""
    digest = hashlib.blake2b(f"{campaign}\x00{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def test_sticky_assignment_is_deterministic_and_balanced(snapshot) -> None:
    function = snapshot.functions["bot"]
    counts: Counter[str] = Counter()
    sessions = [f"session-{i}" for i in range(2000)]  # fixed ids: the split is fixed too
    for session in sessions:
        first = choose_variant(
            snapshot, function, pinned=None, ab_campaign=None, units={"session_id": session}
        )
        again = choose_variant(
            snapshot, function, pinned=None, ab_campaign=None, units={"session_id": session}
        )
        assert first.variant.name == again.variant.name
        assert first.campaign.key == "exp" and first.unit == session
        expected = "a" if blake2b_fraction("exp", session) < 0.5 else "b"
        assert first.variant.name == expected, session
        counts[first.variant.name] += 1
    # Exactly what the hash gives these ids, which is also inside 3 sigma (±67) of 50/50.
    assert counts == {"a": 1004, "b": 996}


def test_unit_fraction_is_stable_across_processes() -> None:
    # Fixed values: changing the hash (say, to Python's per-process hash()) would reshuffle
    # every running experiment, and fails here.
    fixed = {
        ("exp", "session-1"): 0.6033395743006031,
        ("exp2", "session-1"): 0.6654277825034107,
        ("exp", "session-2"): 0.8151155192824672,
        ("ab", "session-1"): 0.7322034311121953,
    }
    for (campaign, unit), value in fixed.items():
        assert unit_fraction(campaign, unit) == value
        assert blake2b_fraction(campaign, unit) == value


def test_weights_without_campaign(snapshot) -> None:
    function = snapshot.functions["plain"]
    picks = {
        choose_variant(snapshot, function, pinned=None, ab_campaign=None, units={}).variant.name
        for _ in range(200)
    }
    assert picks == {"x"}  # weight 0 is only served when pinned
    assert (
        choose_variant(snapshot, function, pinned="y", ab_campaign=None, units={}).variant.name
        == "y"
    )


def test_ab_campaign_must_belong_to_the_function(snapshot) -> None:
    with pytest.raises(InvalidRequest):
        choose_variant(
            snapshot, snapshot.functions["plain"], pinned=None, ab_campaign="exp", units={}
        )
    campaign_id = snapshot.functions["bot"].campaigns["exp"].id
    chosen = choose_variant(
        snapshot,
        snapshot.functions["bot"],
        pinned=None,
        ab_campaign=campaign_id,
        units={"session_id": "s"},
    )
    assert chosen.campaign.key == "exp"
