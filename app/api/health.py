"""Liveness and readiness probes (SPEC §2.5)."""

from __future__ import annotations

from litestar import Request, Response, get

from app.wire.response import encoder


@get("/health", summary="Process is alive", tags=["operations"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", summary="Config loaded and dependencies reachable", tags=["operations"])
async def ready(request: Request) -> Response[bytes]:
    checks = await request.app.state.readiness.check()
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return Response(
        encoder.encode(body), status_code=200 if ok else 503, media_type="application/json"
    )
