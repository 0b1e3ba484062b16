"""Results over time (``GET /v1/campaigns/{key}/results/timeline``): the rows of
``TIMELINE`` in :mod:`app.experiments.sql` as :class:`TimelinePoint` documents. The
confidence sequence of each bucket is the one a reader would have seen at the bucket's end;
being anytime-valid, all of them hold at once with probability 1 - alpha (docs/experiments.md)."""

from __future__ import annotations

from typing import Any

from app.experiments.schema import TimelinePoint, finite, interval


def timeline_points(rows: list[tuple[Any, ...]]) -> list[TimelinePoint]:
    return [
        TimelinePoint(
            bucket=start,
            variant=variant,
            units=int(units),
            feedback_count=int(feedback),
            cumulative_units=int(cumulative_units),
            cumulative_feedback=int(n),
            cumulative_mean=finite(mean),
            confidence_sequence=interval(low, high),
        )
        for start, variant, units, feedback, cumulative_units, n, mean, low, high in rows
    ]
