"""Liveness and readiness probes (``GET /health``, ``GET /ready``; see README, "Endpoints")."""

from __future__ import annotations

import os

from litestar import Response, get

from app.readiness import Readiness
from app.wire.response import encoder


@get("/health", summary="Process is alive", tags=["operations"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", summary="Config loaded and dependencies reachable", tags=["operations"])
async def ready(readiness: Readiness) -> Response[bytes]:
    checks = await readiness.check()
    ok = all(check["ok"] for check in checks.values())
    # pid: which worker answered, when ``serve --workers N`` runs several (docs/scaling.md)
    body = {"status": "ready" if ok else "not_ready", "pid": os.getpid(), "checks": checks}
    return Response(
        encoder.encode(body), status_code=200 if ok else 503, media_type="application/json"
    )
