"""The span pipeline: the OpenTelemetry SDK's tracer, our bounded queue, the SDK's OTLP/HTTP
exporter.

Invariant: nothing a collector does reaches a request. Ending a span only appends it to a
bounded deque (no lock, no I/O); a daemon thread drains it in batches through
``OTLPSpanExporter``, whose retries and timeouts happen on that thread. When the collector is
down or slow the deque fills and further spans are dropped and counted
(``switchyard_trace_spans_dropped_total``) instead of waiting or growing memory. The SDK's
``BatchSpanProcessor`` drops the same way but does not say how many, which an operator needs
to size the queue (docs/operations.md, "Traces").
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.metrics import REGISTRY, Counter
from app.settings import Settings
from app.tracing.request import RequestTrace

log = logging.getLogger("switchyard.tracing")

TRACES_PATH = "/v1/traces"
_BATCH_SPANS = 512
_EXPORT_INTERVAL_S = 1.0
_EXPORT_TIMEOUT_S = 5.0

SPANS = REGISTRY.add(
    Counter(
        "switchyard_trace_spans_total",
        "Finished spans by what became of them: exported, failed (the collector refused or "
        "timed out), dropped (the export queue was full)",
        ("outcome",),
    )
)
_PROPAGATOR = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """The collector's base URL gets the OTLP traces path, as the OpenTelemetry SDKs' own
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` does; a URL that already names it is used as is."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def parse_headers(raw: str) -> dict[str, str]:
    """``key=value,key2=value2`` (the OTLP exporters' header syntax) into a dict."""
    headers: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"invalid setting: otlp_headers item {item!r} is not key=value")
        headers[key.strip().lower()] = value.strip()
    return headers


class BoundedExportQueue(SpanProcessor):
    """Finished spans wait here for the export thread; a full queue drops (and counts) them."""

    def __init__(self, exporter: SpanExporter, max_spans: int) -> None:
        self._exporter = exporter
        self._max_spans = max_spans
        self._spans: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="switchyard-otlp", daemon=True)
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if len(self._spans) >= self._max_spans:
            SPANS.inc(("dropped",))
            return
        self._spans.append(span)
        if len(self._spans) >= _BATCH_SPANS:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(_EXPORT_INTERVAL_S)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        while self._spans:
            batch = [self._spans.popleft() for _ in range(min(_BATCH_SPANS, len(self._spans)))]
            self._export(batch)

    def _export(self, batch: Sequence[ReadableSpan]) -> None:
        try:
            result = self._exporter.export(batch)
        except Exception:  # an exporter bug must not end the thread
            log.exception("OTLP export failed")
            result = SpanExportResult.FAILURE
        outcome = "exported" if result is SpanExportResult.SUCCESS else "failed"
        SPANS.inc((outcome,), len(batch))

    def shutdown(self) -> None:
        """Export what is queued (bounded by the exporter's timeout), then stop."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=_EXPORT_TIMEOUT_S * 2)
        self._drain()
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._wake.set()
        return True


class Tracing:
    """The process's tracer. :meth:`begin` starts a request's trace, continuing the client's
    W3C ``traceparent`` when it sends one."""

    def __init__(
        self, exporter: SpanExporter, service_name: str, queue_spans: int, sample_ratio: float = 1.0
    ) -> None:
        self._queue = BoundedExportQueue(exporter, queue_spans)
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        self._provider.add_span_processor(self._queue)
        self._tracer = self._provider.get_tracer("switchyard")

    def begin(self, operation: str, traceparent: str | None) -> RequestTrace:
        parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
        span = self._tracer.start_span(operation, context=parent, kind=SpanKind.SERVER)
        return RequestTrace(self._tracer, span, operation)

    def close(self) -> None:
        self._provider.shutdown()


def tracing_from_settings(settings: Settings) -> Tracing | None:
    if not settings.otlp_endpoint:
        return None
    exporter = OTLPSpanExporter(
        endpoint=traces_url(settings.otlp_endpoint),
        headers=parse_headers(settings.otlp_headers),
        timeout=_EXPORT_TIMEOUT_S,
    )
    ratio = settings.otlp_sample_ratio
    if not 0 <= ratio <= 1:
        raise SystemExit(f"invalid setting: otlp_sample_ratio {ratio} is not between 0 and 1")
    return Tracing(exporter, settings.otlp_service_name, settings.otlp_queue_spans, ratio)
