"""One request's spans: a server span for the request and a client span per provider attempt,
named and attributed by the OpenTelemetry GenAI semantic conventions (``chat {model}``,
``gen_ai.*``) plus ``switchyard.*`` routing attributes (docs/operations.md, "Traces").

The pipeline drives it: :meth:`RequestTrace.start_attempt` before each provider call (its
return value is the ``traceparent`` the provider is sent), :meth:`attempt_failed` after a
failed one, :meth:`event` for retries, fallbacks and breaker skips, and :meth:`finish` with the
inference's record when the request ends, which closes the answering attempt with the usage
and finish reason only known then (for a stream, at its last chunk). :meth:`fail` closes a
request that ended before it had a record (a 4xx before routing).

A span here is a plain record: its ids, times and attributes, handed to the export queue when
it ends and encoded there (:mod:`app.tracing.otlp`). The OpenTelemetry SDK's spans cost 71 µs
per request on the event loop for the same two spans (docs/performance.md, 2026-12-07).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from app.records import AttemptRecord, InferenceRecord
from app.tracing.otlp import AttributeValue

SERVER, CLIENT = 2, 3  # OTLP's SpanKind
STATUS_ERROR = 2
_random = random.Random()  # ids need uniqueness, not secrecy (as the SDK's RandomIdGenerator)


class SpanRecord:
    __slots__ = (
        "attributes",
        "end_ns",
        "events",
        "kind",
        "name",
        "parent_span_id",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: bytes,
        parent_span_id: bytes,
        name: str,
        kind: int,
        attributes: dict[str, AttributeValue],
    ) -> None:
        self.trace_id = trace_id
        self.span_id = new_span_id()
        self.parent_span_id = parent_span_id
        self.name = name
        self.kind = kind
        self.start_ns = time.time_ns()
        self.end_ns = 0
        self.attributes = attributes
        self.events: list[tuple[int, str, dict[str, AttributeValue]]] = []
        self.status_code = 0
        self.status_message = ""

    def set_error(self, message: str) -> None:
        self.status_code = STATUS_ERROR
        self.status_message = message


def new_trace_id() -> bytes:
    return (_random.getrandbits(128) or 1).to_bytes(16, "big")


def new_span_id() -> bytes:
    return (_random.getrandbits(64) or 1).to_bytes(8, "big")


Sink = Callable[[SpanRecord], None]


class RequestTrace:
    __slots__ = ("_attempt", "_ended", "_flags", "_operation", "_server", "_sink")

    def __init__(
        self, sink: Sink | None, trace_id: bytes, parent_span_id: bytes, operation: str
    ) -> None:
        """``sink`` None: the trace is not sampled; its ids still reach the provider."""
        self._sink = sink
        self._flags = "01" if sink is not None else "00"
        self._operation = operation
        self._server = SpanRecord(trace_id, parent_span_id, operation, SERVER, {})
        self._attempt: SpanRecord | None = None
        self._ended = False

    def start_attempt(self, provider: str, provider_type: str, model: str) -> str:
        """Open the attempt's client span; returns its W3C ``traceparent``."""
        self._close_attempt()
        server = self._server
        span = SpanRecord(
            server.trace_id,
            server.span_id,
            f"{self._operation} {model}",
            CLIENT,
            {
                "gen_ai.operation.name": self._operation,
                "gen_ai.provider.name": provider_type,
                "gen_ai.request.model": model,
                "switchyard.provider": provider,
            },
        )
        self._attempt = span
        return f"00-{span.trace_id.hex()}-{span.span_id.hex()}-{self._flags}"

    def attempt_failed(self, error_type: str, message: str, status: int | None = None) -> None:
        span = self._attempt
        if span is None:
            return
        span.attributes["error.type"] = error_type
        if status is not None:
            span.attributes["http.response.status_code"] = status
        span.set_error(message)
        self._end(span)
        self._attempt = None

    def event(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        self._server.events.append((time.time_ns(), name, attributes))

    def finish(self, record: InferenceRecord) -> None:
        if self._ended:
            return
        self._ended = True
        answered = record.attempts[-1] if record.status == "ok" and record.attempts else None
        if self._attempt is not None:
            if answered is not None:
                self._attempt.attributes.update(_usage(record, answered))
            else:
                self._attempt.set_error(record.error or record.status)
            self._end(self._attempt)
            self._attempt = None
        server = self._server
        server.name = f"{self._operation} {record.model}"
        server.attributes.update(
            {
                "gen_ai.operation.name": self._operation,
                "gen_ai.request.model": record.model,
                "switchyard.function": record.function,
                "switchyard.variant": record.variant,
                "switchyard.campaign": record.campaign,
                "switchyard.inference_id": record.id,
                "switchyard.episode_id": record.episode_id,
                "switchyard.status": record.status,
                "switchyard.cached": record.cached,
            }
        )
        if answered is not None:
            server.attributes["gen_ai.provider.name"] = answered.provider_type
            server.attributes.update(_usage(record, answered))
        if record.status != "ok":
            server.set_error(record.error or record.status)
        self._end(server)

    def fail(self, status: int, message: str) -> None:
        """End a request that failed before (or without) a record, e.g. a 400 or 401."""
        if self._ended:
            return
        self._ended = True
        self.attempt_failed("error", message)
        server = self._server
        server.attributes["http.response.status_code"] = status
        server.attributes["error.type"] = str(status)
        server.set_error(message)
        self._end(server)

    def _close_attempt(self) -> None:
        if self._attempt is not None:
            self._end(self._attempt)
            self._attempt = None

    def _end(self, span: SpanRecord) -> None:
        span.end_ns = time.time_ns()
        if self._sink is not None:
            self._sink(span)


def _usage(record: InferenceRecord, answered: AttemptRecord) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.response.model": answered.model,
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
    }
    if record.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [record.finish_reason]
    if record.completion_ids:
        attributes["gen_ai.response.id"] = record.completion_ids[0]
    return attributes
