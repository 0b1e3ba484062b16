"""OpenTelemetry traces of the gateway's requests (docs/operations.md, "Traces").

Off unless ``SWITCHYARD_OTLP_ENDPOINT`` is set: then :func:`tracing_from_settings` builds a
:class:`Tracing`, each request gets a :class:`RequestTrace` (a server span, one client span per
provider attempt), and finished spans leave through a bounded queue that a thread exports over
OTLP/HTTP. Off, nothing here runs on the request path.

A leaf: it imports only other leaves (records, metrics, settings), so every layer may use it.
"""

from app.tracing.export import Tracing, tracing_from_settings
from app.tracing.request import RequestTrace

__all__ = ["RequestTrace", "Tracing", "tracing_from_settings"]
