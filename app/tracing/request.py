"""One request's spans: a server span for the request and a client span per provider attempt,
named and attributed by the OpenTelemetry GenAI semantic conventions (``chat {model}``,
``gen_ai.*``) plus ``switchyard.*`` routing attributes (docs/operations.md, "Traces").

The pipeline drives it: :meth:`RequestTrace.start_attempt` before each provider call (its
return value is the ``traceparent`` the provider is sent), :meth:`attempt_failed` after a
failed one, :meth:`event` for retries, fallbacks and breaker skips, and :meth:`finish` with the
inference's record when the request ends, which closes the answering attempt with the usage
and finish reason only known then (for a stream, at its last chunk). :meth:`fail` closes a
request that ended before it had a record (a 4xx before routing).
"""

from __future__ import annotations

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.util.types import AttributeValue

from app.records import AttemptRecord, InferenceRecord


class RequestTrace:
    __slots__ = ("_attempt", "_ended", "_operation", "_server", "_tracer")

    def __init__(self, tracer: Tracer, server: Span, operation: str) -> None:
        self._tracer = tracer
        self._server = server
        self._operation = operation
        self._attempt: Span | None = None
        self._ended = False

    def start_attempt(self, provider: str, provider_type: str, model: str) -> str:
        """Open the attempt's client span; returns its W3C ``traceparent``."""
        self._close_attempt()
        span = self._tracer.start_span(
            f"{self._operation} {model}",
            context=set_span_in_context(self._server),
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": self._operation,
                "gen_ai.provider.name": provider_type,
                "gen_ai.request.model": model,
                "switchyard.provider": provider,
            },
        )
        self._attempt = span
        context = span.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"

    def attempt_failed(self, error_type: str, message: str, status: int | None = None) -> None:
        span = self._attempt
        if span is None:
            return
        span.set_attribute("error.type", error_type)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        span.set_status(Status(StatusCode.ERROR, message))
        span.end()
        self._attempt = None

    def event(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        self._server.add_event(name, attributes)

    def finish(self, record: InferenceRecord) -> None:
        if self._ended:
            return
        self._ended = True
        answered = record.attempts[-1] if record.status == "ok" and record.attempts else None
        if self._attempt is not None:
            if answered is not None:
                self._attempt.set_attributes(_usage(record, answered))
            else:
                self._attempt.set_status(Status(StatusCode.ERROR, record.error or record.status))
            self._attempt.end()
            self._attempt = None
        server = self._server
        server.update_name(f"{self._operation} {record.model}")
        server.set_attributes(
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
            server.set_attribute("gen_ai.provider.name", answered.provider_type)
            server.set_attributes(_usage(record, answered))
        if record.status != "ok":
            server.set_status(Status(StatusCode.ERROR, record.error or record.status))
        server.end()

    def fail(self, status: int, message: str) -> None:
        """End a request that failed before (or without) a record, e.g. a 400 or 401."""
        if self._ended:
            return
        self._ended = True
        self.attempt_failed("error", message)
        self._server.set_attribute("http.response.status_code", status)
        self._server.set_attribute("error.type", str(status))
        self._server.set_status(Status(StatusCode.ERROR, message))
        self._server.end()

    def _close_attempt(self) -> None:
        if self._attempt is not None:
            self._attempt.end()
            self._attempt = None


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
