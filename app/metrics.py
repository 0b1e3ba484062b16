"""A tiny in-process Prometheus registry: counters, histograms and gauges read at scrape time.

Small on purpose: an increment is one dict update on a label tuple (no lock: the event loop is
the only writer, and a scrape that reads a dict mid-update is off by one increment at most).
``GET /metrics`` renders it in the Prometheus text format.

The registry is per process: with ``serve --workers N`` each worker counts only what it served
(see docs/analytics.md, "Operations").
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Generic, Protocol, TypeVar

LabelValues = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=False)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Family:
    """One metric family: its ``# HELP`` and ``# TYPE`` lines, then its samples."""

    name: str
    help: str
    kind: str

    def samples(self) -> Iterable[str]:
        raise NotImplementedError

    def exposition(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.samples()


class Counter(_Family):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self.values: dict[LabelValues, float] = {}

    def inc(self, labels: LabelValues = (), amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def samples(self) -> Iterable[str]:
        for labels, value in list(self.values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram(_Family):
    kind = "histogram"

    def __init__(
        self, name: str, help: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> None:
        self.name, self.help, self.label_names = name, help, labels
        self.buckets = buckets
        self.values: dict[LabelValues, list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, labels: LabelValues, value: float) -> None:
        series = self.values.get(labels)
        if series is None:
            series = self.values[labels] = [0.0] * (len(self.buckets) + 2)
        series[bisect.bisect_left(self.buckets, value)] += 1
        series[-1] += value

    def samples(self) -> Iterable[str]:
        for labels, series in list(self.values.items()):
            cumulative = 0.0
            for bound, count in zip((*self.buckets, float("inf")), series, strict=False):
                cumulative += count
                le = 'le="' + ("+Inf" if bound == float("inf") else _number(bound)) + '"'
                bucket = _labels(self.label_names, labels, le)
                yield f"{self.name}_bucket{bucket} {_number(cumulative)}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {_number(cumulative)}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(series[-1])}"


class Gauge(_Family):
    """A value read when scraped (queue depth, ...), from a callback."""

    kind = "gauge"

    def __init__(
        self, name: str, help: str, read: Callable[[], float], kind: str = "gauge"
    ) -> None:
        self.name, self.help, self.read, self.kind = name, help, read, kind

    def samples(self) -> Iterable[str]:
        yield f"{self.name} {_number(self.read())}"


class LabelledGauge(_Family):
    """Gauges read when scraped, one series per label tuple the callback returns (the
    allocation of each adaptive campaign's variants, ...)."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help: str,
        labels: tuple[str, ...],
        read: Callable[[], dict[LabelValues, float]],
    ) -> None:
        self.name, self.help, self.label_names, self.read = name, help, labels, read

    def samples(self) -> Iterable[str]:
        for labels, value in self.read().items():
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


T = TypeVar("T")


class GaugeSet(Generic[T]):
    """Gauges that read one snapshot, taken once per scrape however many gauges it feeds: for
    figures that are costly to read (the writer's stats list the spill directory)."""

    def __init__(self, name: str, take: Callable[[], T]) -> None:
        self.name = name  # the registry key; each gauge has its own series name
        self._take = take
        self._gauges: list[tuple[str, str, str, Callable[[T], float]]] = []

    def gauge(self, name: str, help: str, read: Callable[[T], float], kind: str = "gauge") -> None:
        """Add a series whose value is ``read(snapshot)``; ``kind`` may be ``counter`` for a
        total the snapshot carries."""
        self._gauges.append((name, help, kind, read))

    def exposition(self) -> Iterator[str]:
        snapshot = self._take()
        for name, help, kind, read in self._gauges:
            yield from Gauge(name, help, partial(read, snapshot), kind).exposition()


class Metric(Protocol):
    @property
    def name(self) -> str: ...

    def exposition(self) -> Iterable[str]: ...


M = TypeVar("M", bound=Metric)


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def add(self, metric: M) -> M:
        """Register ``metric``, replacing one of the same name (an app built twice in a process)."""
        self._metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        lines = [line for metric in self._metrics.values() for line in metric.exposition()]
        return "\n".join(lines) + "\n"


# The process's registry: one gateway app per process, so one set of series.
REGISTRY = Registry()
