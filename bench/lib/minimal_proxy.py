"""A minimal Litestar + aiohttp proxy with no features: the calibration row of the benchmark.

It is what docs/performance.md calls "minimal Litestar + aiohttp proxy (no features)": the same stack as
Switchyard (granian ASGI server, uvloop, Litestar, msgspec, aiohttp client), forwarding the
request body to the mock and the answer back, with no routing, templates, records or logging.
Its figures bound what the stack itself costs on this machine, and show whether the machine is
as fast as when the reference figures were taken.

    UPSTREAM=http://127.0.0.1:18081 granian --interface asgi --loop uvloop --factory \\
        --host 127.0.0.1 --port 18083 bench.lib.minimal_proxy:create_app   (bench/run does this)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import msgspec
from litestar import Litestar, Request, Response, post
from litestar.response import Stream

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:18081")


class _Peek(msgspec.Struct):
    stream: bool = False


_peek = msgspec.json.Decoder(_Peek)
_session: aiohttp.ClientSession | None = None


async def _open() -> None:
    global _session
    _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None))


async def _close() -> None:
    if _session is not None:
        await _session.close()


@post("/v1/chat/completions", status_code=200)
async def chat(request: Request) -> Response[bytes] | Stream:
    body = await request.body()
    streaming = _peek.decode(body).stream
    assert _session is not None
    url = UPSTREAM + ("/sse/v1/chat/completions" if streaming else "/json/v1/chat/completions")
    headers = {"Content-Type": "application/json"}
    if not streaming:
        async with _session.post(url, data=body, headers=headers) as upstream:
            return Response(
                await upstream.read(), status_code=upstream.status, media_type="application/json"
            )

    async def relay() -> AsyncIterator[bytes]:
        async with _session.post(url, data=body, headers=headers) as upstream:  # type: ignore[union-attr]
            async for chunk in upstream.content.iter_any():
                yield chunk

    return Stream(relay(), media_type="text/event-stream")


def create_app() -> Litestar:
    from litestar import get

    @get("/health")
    async def health() -> str:
        return "ok"

    return Litestar([chat, health], on_startup=[_open], on_shutdown=[_close], debug=False)
