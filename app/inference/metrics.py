"""The business series on ``/metrics``: inferences, latency, time to first token and tokens by
function and variant, and provider attempts by outcome (see docs/analytics.md, "Operations").

They are counted where inferences are produced, by a :class:`MeteredRecorder` wrapped around
the store's recorder, so they count exactly the recorded inferences (``store=false`` ones are
not) and the store knows nothing of them. Counting is a few dict updates on the event loop.
"""

from __future__ import annotations

import logging

from app.metrics import REGISTRY, Counter, Histogram, Registry
from app.records import InferenceRecord, Recorder

log = logging.getLogger("switchyard.inference")

# Seconds; spans a cached answer (ms) to a long generation (minutes).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class InferenceMetrics:
    """Per-inference series, registered in ``registry`` when built."""

    def __init__(self, registry: Registry = REGISTRY) -> None:
        by_variant = ("function", "variant")
        self.inferences = registry.add(
            Counter(
                "switchyard_inferences_total",
                "Recorded inferences by outcome",
                (*by_variant, "status"),
            )
        )
        self.latency = registry.add(
            Histogram(
                "switchyard_inference_latency_seconds",
                "Request to last byte",
                by_variant,
                _LATENCY_BUCKETS,
            )
        )
        self.ttft = registry.add(
            Histogram(
                "switchyard_inference_ttft_seconds",
                "Request to first token",
                by_variant,
                _LATENCY_BUCKETS,
            )
        )
        self.tokens = registry.add(
            Counter("switchyard_tokens_total", "Tokens by kind", (*by_variant, "kind"))
        )
        by_model = (*by_variant, "model")
        self.cost = registry.add(
            Counter(
                "switchyard_cost_usd_total",
                "Spend in USD at the answering route's price (docs/spend.md)",
                by_model,
            )
        )
        self.unpriced = registry.add(
            Counter(
                "switchyard_unpriced_inferences_total",
                "Answered inferences whose route has no known price (cost null)",
                by_model,
            )
        )
        self.attempts = registry.add(
            Counter(
                "switchyard_provider_attempts_total",
                "Provider calls by outcome",
                ("provider", "status"),
            )
        )

    def observe(self, record: InferenceRecord) -> None:
        key = (record.function, record.variant)
        self.inferences.inc((*key, record.status))
        self.latency.observe(key, record.latency_ms / 1000)
        if record.ttft_ms is not None:
            self.ttft.observe(key, record.ttft_ms / 1000)
        self.tokens.inc((*key, "prompt"), record.prompt_tokens)
        self.tokens.inc((*key, "completion"), record.completion_tokens)
        model = record.served_model or record.model  # as spend reports name it (docs/spend.md)
        if record.cost is not None:
            self.cost.inc((*key, model), record.cost)
        elif record.provider:
            self.unpriced.inc((*key, model))
        for attempt in record.attempts:
            self.attempts.inc((attempt.provider, attempt.status))


class MeteredRecorder:
    """A :class:`Recorder` that counts each record in ``metrics``, then hands it to ``inner``."""

    def __init__(self, inner: Recorder, metrics: InferenceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def record(self, record: InferenceRecord) -> None:
        try:
            if record.stored:
                self._metrics.observe(record)
        except Exception:  # the response is already sent; never let bookkeeping fail it
            log.exception("could not count inference %s", record.id)
        self._inner.record(record)
