"""Variant choice (docs/experiments.md): pinned → ``ab_campaign`` → the active campaign → weights.

Sticky assignment in a fixed campaign hashes the unit id with the campaign key into [0, 1)
and maps it onto the cumulative weights. Nothing is stored: every replica, before and after a
restart, computes the same variant for the same unit. Changing weights moves only the units
whose hash falls in the slice of the line that changed owner.

Adaptive campaigns move their weights all the time, so their units' first assignments are
remembered: the snapshot's ``campaign_state`` (:mod:`app.routing.adaptive`) decides. A
snapshot without one (built outside a running gateway) hashes into an equal split.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from app.config.compile import Snapshot
from app.config.functions import CompiledCampaign, CompiledFunction, CompiledVariant
from app.errors import InvalidRequest

_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Assignment:
    variant: CompiledVariant
    campaign: CompiledCampaign | None = None
    unit: str | None = None  # the sticky unit id used, if any


def unit_fraction(campaign_key: str, unit: str) -> float:
    """A stable, uniform position in [0, 1) for this unit in this campaign."""
    digest = hashlib.blake2b(f"{campaign_key}\x00{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def choose_variant(
    snapshot: Snapshot,
    function: CompiledFunction,
    *,
    pinned: str | None,
    ab_campaign: str | None,
    units: dict[str, str | None],
) -> Assignment:
    if pinned is not None:
        variant = function.variants.get(pinned)
        if variant is None:
            raise InvalidRequest(
                f"Function '{function.name}' has no variant '{pinned}'",
                param="tensorzero::variant_name",
            )
        return Assignment(variant)

    campaign = (
        _requested_campaign(snapshot, function, ab_campaign)
        if ab_campaign
        else function.active_campaign
    )
    if campaign is not None:
        unit = units.get(campaign.config.sticky_by)
        if campaign.adaptive and snapshot.campaign_state is not None:
            name = snapshot.campaign_state.choose(campaign, unit)
            return Assignment(function.variants[name], campaign, unit)
        fraction = unit_fraction(campaign.key, unit) if unit else random.random()
        return Assignment(function.variants[campaign.table.pick(fraction)], campaign, unit)

    if function.table is None:
        return Assignment(function.variants[function.config.default_variant])  # type: ignore[index]
    return Assignment(function.variants[function.table.pick(random.random())])


def _requested_campaign(
    snapshot: Snapshot, function: CompiledFunction, ref: str
) -> CompiledCampaign:
    campaign = function.campaigns.get(ref) or snapshot.campaigns_by_id.get(ref)
    if campaign is None:
        raise InvalidRequest(
            f"Unknown campaign '{ref}'", param="ab_campaign", code="campaign_not_found"
        )
    if campaign.function != function.name:
        raise InvalidRequest(
            f"Campaign '{campaign.key}' belongs to function '{campaign.function}',"
            f" not '{function.name}'",
            param="ab_campaign",
        )
    if not campaign.active:
        raise InvalidRequest(
            f"Campaign '{campaign.key}' is {campaign.config.status}, not active",
            param="ab_campaign",
        )
    return campaign
