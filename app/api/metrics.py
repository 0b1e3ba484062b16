"""``GET /metrics`` (Prometheus text format) and the per-route request counter feeding it."""

from __future__ import annotations

from litestar import Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import REGISTRY, Counter

HTTP_REQUESTS = REGISTRY.add(
    Counter(
        "switchyard_http_requests_total",
        "HTTP requests by route and status",
        ("route", "method", "status"),
    )
)


def count_requests(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: one counter increment per response, labelled by the route *template*
    (``/v1/chat/completions``, not the raw path) so label cardinality stays bounded."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        finally:
            route = scope.get("path_template") or "unmatched"
            HTTP_REQUESTS.inc((route, scope["method"], str(status)))

    return middleware


@get("/metrics", summary="Prometheus metrics", tags=["operations"], include_in_schema=False)
async def metrics() -> Response[str]:
    return Response(REGISTRY.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
