"""Variant choice in adaptive campaigns: the allocation in use and units' first assignments
(docs/experiments.md, "Adaptive campaigns" and "Stickiness").

A unit keeps the variant it first got for the life of the campaign. Hashing into the weights
is not enough once the weights move, so first assignments are remembered:

- in memory, here: a per-campaign dict ``unit -> variant`` that the request path reads and
  writes without ever waiting on anything;
- in the config store (``sticky_assignments``), by :class:`app.runtime.sticky.StickySync`,
  which flushes new assignments in batches, insert-if-absent (the first writer wins), adopts
  the stored value when another replica won, and pulls the rows other replicas wrote.

A unit the cache does not know gets the variant its hash picks from the *current* allocation
(``unit_fraction`` into the cumulative shares): two replicas serving the same allocation pick
the same variant for a new unit without talking to each other.

Nothing here does I/O. The allocation comes from outside (the experiments service sets it);
routing only reads it.
"""

from __future__ import annotations

import hashlib
import random

from app.config.compile import Snapshot
from app.config.functions import CompiledCampaign, WeightTable
from app.routing.variants import unit_fraction

Key = tuple[str, str]  # (campaign id, unit)
# Column sizes of ``sticky_assignments``; longer values are stored as a digest.
CAMPAIGN_ID_LENGTH = 100
UNIT_LENGTH = 300


def stored_form(value: str, limit: int = UNIT_LENGTH) -> str:
    """``value`` as the store keeps it: itself, or a digest when longer than the column."""
    if len(value) <= limit:
        return value
    return "blake2b:" + hashlib.blake2b(value.encode(), digest_size=32).hexdigest()


def active_adaptive(snapshot: Snapshot) -> list[CompiledCampaign]:
    """The campaigns whose allocation is kept up to date and whose units are remembered."""
    return [
        c
        for f in snapshot.functions.values()
        for c in f.campaigns.values()
        if c.adaptive and c.active
    ]


def stored_campaign_ids(snapshot: Snapshot) -> set[str]:
    """The ids of :func:`active_adaptive` campaigns, as ``sticky_assignments`` stores them."""
    return {stored_form(c.id, CAMPAIGN_ID_LENGTH) for c in active_adaptive(snapshot)}


def retained_campaign_ids(snapshot: Snapshot) -> set[str]:
    """The ids, as stored, of every campaign not ended (active or paused: it may resume), whose
    first assignments retention keeps (app/runtime/retention.py)."""
    return {
        stored_form(c.id, CAMPAIGN_ID_LENGTH)
        for f in snapshot.functions.values()
        for c in f.campaigns.values()
        if c.config.status != "ended"
    }


class FirstAssignments:
    """The variant each unit first got, per campaign id, plus the ones not yet stored."""

    def __init__(self) -> None:
        self.by_campaign: dict[str, dict[str, str]] = {}
        self.pending: dict[Key, str] = {}
        self.conflicts = 0  # first assignments another replica had already stored differently

    def get(self, campaign_id: str, unit: str) -> str | None:
        units = self.by_campaign.get(campaign_id)
        return units.get(unit) if units is not None else None

    def remember(self, campaign_id: str, unit: str, variant: str) -> None:
        """A new first assignment: cached now, stored by the next flush."""
        self.by_campaign.setdefault(campaign_id, {})[unit] = variant
        self.pending[(campaign_id, unit)] = variant

    def adopt(self, campaign_id: str, unit: str, variant: str) -> None:
        """The stored first assignment (loaded, pulled from other replicas, or read back after
        a flush): it wins over what this process guessed."""
        units = self.by_campaign.setdefault(campaign_id, {})
        known = units.get(unit)
        if known is not None and known != variant:
            self.conflicts += 1
        units[unit] = variant

    def take_pending(self) -> dict[Key, str]:
        batch, self.pending = self.pending, {}
        return batch

    def requeue(self, batch: dict[Key, str]) -> None:
        """A batch the store could not take: back in the queue (newer entries win)."""
        self.pending = {**batch, **self.pending}

    def size(self) -> int:
        return sum(len(units) for units in self.by_campaign.values())

    def forget(self, campaign_id: str) -> None:
        """Drop a campaign's cache (it stopped being an active adaptive campaign)."""
        self.by_campaign.pop(campaign_id, None)


class LiveCampaigns:
    """The process's adaptive-campaign state; implements :class:`app.config.functions.CampaignState`.

    ``allocations`` maps a campaign id to the shares last computed for it. A campaign without
    one (just started, or its variants changed since) is split equally; a promoted campaign
    sends every new unit to its winner.
    """

    def __init__(self) -> None:
        self.assignments = FirstAssignments()
        self._allocations: dict[str, tuple[dict[str, float], WeightTable, str]] = {}

    def set_allocation(self, campaign_id: str, shares: dict[str, float], phase: str) -> None:
        if sum(shares.values()) <= 0:
            return
        self._allocations[campaign_id] = (dict(shares), WeightTable.from_weights(shares), phase)

    def shares(self, campaign: CompiledCampaign) -> dict[str, float]:
        return self._current(campaign)[0]

    def phase(self, campaign: CompiledCampaign) -> str:
        return self._current(campaign)[2]

    def choose(self, campaign: CompiledCampaign, unit: str | None) -> str:
        table = self._current(campaign)[1]
        if not unit:
            return table.pick(random.random())
        campaign_id, key = stored_form(campaign.id, CAMPAIGN_ID_LENGTH), stored_form(unit)
        known = self.assignments.get(campaign_id, key)
        if known is not None and known in campaign.config.variants:
            return known
        variant = table.pick(unit_fraction(campaign.key, unit))
        if known is None:
            self.assignments.remember(campaign_id, key, variant)
        # else: the variant it first got was removed from the campaign; serve, do not record.
        return variant

    def _current(self, campaign: CompiledCampaign) -> tuple[dict[str, float], WeightTable, str]:
        variants = list(campaign.config.variants)
        promoted = campaign.config.promoted
        if promoted is not None:
            shares = {v: 1.0 if v == promoted else 0.0 for v in variants}
            return shares, WeightTable.from_weights(shares), "promoted"
        stored = self._allocations.get(campaign.id)
        if stored is not None and list(stored[0]) == variants:
            return stored
        equal = {v: 1 / len(variants) for v in variants}
        return equal, WeightTable.from_weights(equal), "equal_split"
