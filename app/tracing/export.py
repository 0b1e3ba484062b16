"""The span pipeline: a bounded queue of finished spans and a thread that encodes them as OTLP
protobuf (:mod:`app.tracing.otlp`) and POSTs them to the collector over HTTP.

Invariant: nothing a collector does reaches a request. Ending a span only appends it to a
bounded deque (no lock, no I/O, no encoding); a daemon thread drains it in batches, and its
timeouts happen on that thread. When the collector is down or slow the deque fills and further
spans are dropped and counted (``switchyard_trace_spans_total{outcome="dropped"}``) instead of waiting or
growing memory (docs/operations.md, "Traces"). Sampling is the SDK's ``ParentBased
(TraceIdRatioBased)``: a client's sampled flag is followed, a new trace is kept when the low 64
bits of its id fall under the ratio.
"""

from __future__ import annotations

import collections
import http.client
import logging
import re
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from app import __version__
from app.metrics import REGISTRY, Counter
from app.settings import Settings
from app.tracing import otlp
from app.tracing.request import RequestTrace, SpanRecord, new_trace_id

log = logging.getLogger("switchyard.tracing")

TRACES_PATH = "/v1/traces"
_BATCH_SPANS = 512
_EXPORT_INTERVAL_S = 1.0
_EXPORT_TIMEOUT_S = 5.0
_TRACE_ID_LIMIT = (1 << 64) - 1
# W3C Trace Context, version 00 (a later version may append fields; ff is invalid).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")

SPANS = REGISTRY.add(
    Counter(
        "switchyard_trace_spans_total",
        "Finished spans by what became of them: exported, failed (the collector refused or "
        "timed out), dropped (the export queue was full)",
        ("outcome",),
    )
)


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


def parse_traceparent(value: str) -> tuple[bytes, bytes, bool] | None:
    """(trace id, parent span id, sampled) of a valid W3C ``traceparent``, else None (a new
    trace starts, as the spec asks)."""
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if (
        version == "ff"
        or (version == "00" and rest)
        or not int(trace_id, 16)
        or not int(span_id, 16)
    ):
        return None
    return bytes.fromhex(trace_id), bytes.fromhex(span_id), bool(int(flags, 16) & 1)


class OtlpHttpSender:
    """POSTs encoded batches to the collector on one kept-alive connection (the export
    thread's only)."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SystemExit(f"invalid setting: otlp_endpoint {url!r} is not an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path or TRACES_PATH
        self._headers = {**headers, "content-type": "application/x-protobuf"}
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def send(self, body: bytes) -> bool:
        try:
            connection = self._connection or self._connect()
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            log.warning("OTLP export to %s failed: %s", self._host, exc)
            self.close()
            return False
        if not 200 <= response.status < 300:
            log.warning("OTLP collector %s answered %d", self._host, response.status)
            return False
        return True

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._connection = kind(self._host, self._port, timeout=self._timeout_s)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class BoundedExportQueue:
    """Finished spans wait here for the export thread; a full queue drops (and counts) them."""

    def __init__(self, sender: OtlpHttpSender, max_spans: int, service_name: str) -> None:
        self._sender = sender
        self._max_spans = max_spans
        self._resource = otlp.resource_message(
            {
                "service.name": service_name,
                "service.version": __version__,
                "telemetry.sdk.name": "switchyard",
                "telemetry.sdk.language": "python",
            }
        )
        self._scope = otlp.scope_message("switchyard", __version__)
        self._spans: collections.deque[SpanRecord] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="switchyard-otlp", daemon=True)
        self._thread.start()

    def put(self, span: SpanRecord) -> None:
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

    def _export(self, batch: Sequence[SpanRecord]) -> None:
        try:
            body = otlp.export_request(self._resource, self._scope, map(_encoded, batch))
            sent = self._sender.send(body)
        except Exception:  # an encoding bug must not end the thread
            log.exception("OTLP export failed")
            sent = False
        SPANS.inc(("exported" if sent else "failed",), len(batch))

    def shutdown(self) -> None:
        """Export what is queued (bounded by the sender's timeout), then stop."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=_EXPORT_TIMEOUT_S * 2)
        self._drain()
        self._sender.close()


def _encoded(span: SpanRecord) -> bytes:
    return otlp.span(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        span_attributes=span.attributes,
        events=span.events,
        status_code=span.status_code,
        status_message=span.status_message,
    )


class Tracing:
    """The process's tracer. :meth:`begin` starts a request's trace, continuing the client's
    W3C ``traceparent`` when it sends one."""

    def __init__(
        self,
        sender: OtlpHttpSender,
        service_name: str,
        queue_spans: int,
        sample_ratio: float = 1.0,
    ) -> None:
        self._queue = BoundedExportQueue(sender, queue_spans, service_name)
        self._bound = round(sample_ratio * (_TRACE_ID_LIMIT + 1))

    def begin(self, operation: str, traceparent: str | None) -> RequestTrace:
        parent = parse_traceparent(traceparent) if traceparent else None
        if parent is not None:
            trace_id, parent_span_id, sampled = parent
        else:
            trace_id, parent_span_id = new_trace_id(), b""
            sampled = int.from_bytes(trace_id[8:], "big") < self._bound
        sink = self._queue.put if sampled else None
        return RequestTrace(sink, trace_id, parent_span_id, operation)

    def close(self) -> None:
        self._queue.shutdown()


def tracing_from_settings(settings: Settings) -> Tracing | None:
    if not settings.otlp_endpoint:
        return None
    ratio = settings.otlp_sample_ratio
    if not 0 <= ratio <= 1:
        raise SystemExit(f"invalid setting: otlp_sample_ratio {ratio} is not between 0 and 1")
    sender = OtlpHttpSender(
        traces_url(settings.otlp_endpoint), parse_headers(settings.otlp_headers), _EXPORT_TIMEOUT_S
    )
    return Tracing(sender, settings.otlp_service_name, settings.otlp_queue_spans, ratio)
