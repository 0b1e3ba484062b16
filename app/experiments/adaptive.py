"""The allocation loop of adaptive campaigns (docs/experiments.md, "Adaptive campaigns").

For each active adaptive campaign, every ``update_interval_s``: read the per-variant feedback
aggregates from ClickHouse (the same ``STATS`` query the results use), take the decision
(:func:`app.experiments.anytime.decide`), compute the allocation
(:func:`app.experiments.thompson.allocate`) and hand it to routing. With
``on_decision = "promote"`` a ``winner`` decision is written to the config as the campaign's
``promoted`` variant, a config version authored ``switchyard``.

Updates are aligned to the wall clock (at multiples of ``update_interval_s`` since the epoch),
so replicas read ClickHouse at about the same moments; the allocation is a pure function of
what they read, so they serve the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from app.config.functions import CompiledCampaign
from app.config.holder import ConfigHolder
from app.config.schema import CampaignConfig
from app.experiments import anytime
from app.experiments.results import (
    Rows,
    comparison_from_stats,
    statistics_parameters,
    stats_by_variant,
)
from app.experiments.schema import Decision
from app.experiments.thompson import Allocation, Arm, allocate
from app.metrics import REGISTRY, LabelledGauge
from app.routing.adaptive import LiveCampaigns, active_adaptive

log = logging.getLogger("switchyard.adaptive")

# How often the loop looks for due campaigns (and notices config changes) at most.
TICK_S = 1.0

Promote = Callable[[CompiledCampaign, str, str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Update:
    at: float
    allocation: Allocation
    decision: Decision
    config: CampaignConfig  # the campaign's settings it was computed for


class AdaptiveCampaigns:
    def __init__(
        self,
        config: ConfigHolder,
        rows: Rows,
        state: LiveCampaigns,
        promote: Promote | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.rows = rows
        self.state = state
        self.promote = promote
        self.clock = clock
        self.updates: dict[str, Update] = {}  # by campaign id
        self._task: asyncio.Task[None] | None = None
        REGISTRY.add(
            LabelledGauge(
                "switchyard_campaign_allocation",
                "Share of new units each variant of an active adaptive campaign gets now",
                ("function", "campaign", "variant"),
                self.gauge,
            )
        )

    def campaigns(self) -> list[CompiledCampaign]:
        return active_adaptive(self.config.current)

    async def start(self) -> None:
        """One update before serving (new units start on the current allocation), then the loop."""
        await self.update_due()
        self._task = asyncio.create_task(self._loop(), name="adaptive-campaigns")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def update_due(self) -> float:
        """Update every campaign whose interval has turned; the seconds until the next one."""
        now = self.clock()
        wait = TICK_S
        for campaign in self.campaigns():
            interval = campaign.config.update_interval_s
            last = self.updates.get(campaign.id)
            if (
                last is None
                or last.config != campaign.config  # edited: variants or settings changed
                or math.floor(now / interval) > math.floor(last.at / interval)
            ):
                try:
                    await self.update(campaign, now)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - keep the last allocation; retry next tick
                    log.warning("allocation of campaign %s not updated: %s", campaign.key, exc)
            wait = min(wait, interval - now % interval)
        return max(wait, 0.05)

    async def update(self, campaign: CompiledCampaign, now: float | None = None) -> Update:
        now = self.clock() if now is None else now
        snapshot = self.config.current
        metric_name = campaign.config.metric
        assert metric_name is not None  # the compiler requires one for adaptive campaigns
        metric = snapshot.metrics[metric_name]
        params = statistics_parameters(campaign, metric_name)
        stats = await stats_by_variant(self.rows, params, metric)
        variants, control = params["variants"], params["control"]
        comparisons = [comparison_from_stats(v, stats, control) for v in variants[1:]]
        decision = anytime.decide(comparisons, control, metric.optimize, campaign.config.alpha)
        arms = [_arm(v, stats.get(v)) for v in variants]
        allocation = await asyncio.to_thread(  # a few ms per variant: off the event loop
            partial(
                allocate,
                arms,
                boolean=metric.type == "boolean",
                optimize=metric.optimize,
                min_share=campaign.config.min_share,
                min_samples=campaign.config.min_samples_per_variant,
                final=decision.status != "continue",
            )
        )
        self.state.set_allocation(campaign.id, allocation.shares, allocation.phase)
        update = Update(now, allocation, decision, campaign.config)
        self.updates[campaign.id] = update
        if (
            self.promote is not None
            and campaign.config.on_decision == "promote"
            and decision.status == "winner"
            and decision.variant is not None
            and campaign.config.promoted != decision.variant
        ):
            await self.promote(campaign, decision.variant, decision.reason)
        return update

    def gauge(self) -> dict[tuple[str, ...], float]:
        return {
            (c.function, c.key, variant): share
            for c in self.campaigns()
            for variant, share in self.state.shares(c).items()
        }

    async def _loop(self) -> None:
        wait = TICK_S
        while True:
            await asyncio.sleep(wait)
            wait = await self.update_due()


def _arm(variant: str, stat: dict[str, object] | None) -> Arm:
    if not stat:
        return Arm(variant, 0, 0.0)
    n = int(stat.get("n") or 0)  # type: ignore[call-overload]
    mean = float(stat.get("mean") or 0.0)  # type: ignore[arg-type]
    se = float(stat.get("se") or 0.0)  # type: ignore[arg-type]
    se = se if math.isfinite(se) else 0.0
    mean = mean if math.isfinite(mean) else 0.0
    return Arm(variant, n, mean, se * se * n)
