"""A real OTLP/HTTP trace receiver on 127.0.0.1: decodes each ``ExportTraceServiceRequest``
(protobuf, opentelemetry-proto) and keeps its spans, flattened with their resource's
attributes. ``/ok/v1/traces`` accepts, ``/stall/v1/traces`` holds every export for 30 s (a
collector that hangs)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support.aio_server import ThreadedServer


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class ReceivedSpan:
    def __init__(self, span: Any, resource: dict[str, Any]) -> None:
        self.name: str = span.name
        self.kind: int = span.kind
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_span_id = span.parent_span_id.hex()
        self.attributes = {a.key: value_of(a.value) for a in span.attributes}
        self.events = [
            (e.name, {a.key: value_of(a.value) for a in e.attributes}) for e in span.events
        ]
        self.status_code: int = span.status.code  # 0 unset, 1 ok, 2 error
        self.resource = resource


class OTLPReceiver(ThreadedServer):
    route = "/{behaviour}/v1/traces"

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[ReceivedSpan] = []
        self.headers: list[dict[str, str]] = []

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = request.match_info["behaviour"]
        if behaviour == "stall":
            await asyncio.sleep(30)
        self.headers.append(dict(request.headers))
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in export.resource_spans:
            resource = {a.key: value_of(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(ReceivedSpan(s, resource) for s in scope_spans.spans)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def trace(self, trace_id: str, spans: int, timeout: float = 15) -> list[ReceivedSpan]:
        """The spans of one trace, once at least ``spans`` of them have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.spans if s.trace_id == trace_id]
            if len(found) >= spans or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
