"""Seeded campaign data written straight into an embedded ClickHouse, with the timestamps a
test chooses (three days of traffic, ratings arriving late, targets rated twice), and what
the results must be built from: each rated target's latest value and when it was first rated.

The rows follow the campaign ``ab`` of tests/support/experiment_config.py (variants a, b).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 11, 20, 5, tzinfo=UTC)
SUCCESS = {"a": 0.30, "b": 0.40}
SCORE_MEAN = {"a": 3.0, "b": 3.15}


@dataclass
class Seeded:
    # metric -> target -> (variant, first rated at, latest value)
    targets: dict[str, dict[uuid.UUID, tuple[str, datetime, float]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # (variant, unit key) -> first served at
    units: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def values(self, metric: str, variant: str) -> list[float]:
        return [v for var, _, v in self.targets[metric].values() if var == variant]


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.inferences: list[list[Any]] = []
        self.feedback: list[list[Any]] = []
        self.seeded = Seeded()

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def rate(
        self, metric: str, level: str, target: uuid.UUID, variant: str, at: datetime, value: float
    ) -> None:
        """One rating, sometimes followed by a revised one: the latest value is the one that
        counts, the first rating's time is when the target enters the sample."""
        ratings = [(at, value)]
        if self.rng.random() < 0.1:
            revised = value + self.rng.gauss(0, 1) if metric == "score" else 1.0 - value
            ratings.append((at + timedelta(hours=self.rng.uniform(1, 30)), revised))
        inference_id = target if level == "inference" else None
        for created_at, rated in ratings:
            self.feedback.append(
                [self.uuid(), created_at, target, level, inference_id, metric, "float", rated]
            )
        self.seeded.targets[metric][target] = (variant, at, ratings[-1][1])

    def unit(self, anonymous: bool) -> None:
        variant = "a" if self.rng.random() < 0.5 else "b"
        unit, episode = ("" if anonymous else str(self.uuid())), self.uuid()
        served = START + timedelta(hours=self.rng.uniform(0, 60))
        for _ in range(1 if anonymous else self.rng.randint(1, 3)):
            at = served + timedelta(minutes=self.rng.uniform(0, 600))
            inference = self.uuid()
            self.inferences.append([inference, at, "exp", variant, "ab", unit, episode, "ok"])
            key = unit or str(inference)
            self.seeded.units[(variant, key)] = min(at, self.seeded.units.get((variant, key), at))
            late = at + timedelta(hours=self.rng.expovariate(1 / 8))
            if self.rng.random() < 0.8:
                success = float(self.rng.random() < SUCCESS[variant])
                self.rate("success", "inference", inference, variant, late, success)
            score = self.rng.gauss(SCORE_MEAN[variant], 1)
            self.rate("score", "inference", inference, variant, late, score)
        if self.rng.random() < 0.7:
            resolved = float(self.rng.random() < SUCCESS[variant] + 0.2)
            rated_at = served + timedelta(hours=12)
            self.rate("resolved", "episode", episode, variant, rated_at, resolved)


def seed(client: Any, units: int = 900, seed: int = 13) -> Seeded:
    """Write ``units`` units of traffic and feedback to ``client`` (clickhouse-connect)."""
    writer = _Writer(random.Random(seed))
    for i in range(units):
        writer.unit(anonymous=i % 10 == 0)
    client.insert(
        "inferences",
        writer.inferences,
        column_names=[
            "id", "created_at", "function", "variant", "campaign", "sticky_unit", "episode_id",
            "status",
        ],
    )  # fmt: skip
    client.insert(
        "feedback",
        writer.feedback,
        column_names=[
            "id", "created_at", "target_id", "target_level", "inference_id", "metric", "type",
            "value",
        ],
    )  # fmt: skip
    return writer.seeded
