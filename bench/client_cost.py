"""What a provider call costs the gateway's CPU, per HTTP client library (docs/performance.md).

Run: ``.venv/bin/python bench/client_cost.py [--requests 20000] [--concurrency 32] [--rounds 3]``.
The candidates are aiohttp (configured as ``app/providers/http.py`` configures it) and the
Rust-backed pyreqwest and httpr (``pip install pyreqwest httpr``; a library that is not
installed is reported as skipped). Each posts a chat body to a local upstream that answers with
the benchmark's completion (``bench/mock/completion.json``) or its SSE stream
(``bench/mock/stream.sse``), at a fixed concurrency, reading every byte the way the gateway does
(the whole body, or the stream chunk by chunk).

The figure is this process's CPU time per request (every thread: the Rust clients run their I/O
in threads of their own), not wall time, so it holds on a shared machine; the upstream is a
separate process and is not counted. Candidates are interleaved round by round and the median of
the rounds is reported, to keep drift out of the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

MOCK = Path(__file__).resolve().parent / "mock"
sys.path.insert(0, str(MOCK.parents[1]))
BODY = (
    b'{"model":"bench-model","messages":[{"role":"user","content":'
    b'"Summarise the attached ticket in two sentences."}],"stream":false}'
)

Call = Callable[[str], Awaitable[int]]


def _reply(payload: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(payload)).encode()
        + b"\r\nconnection: keep-alive\r\n\r\n"
        + payload
    )


_REPLIES = {
    b"/plain": _reply((MOCK / "completion.json").read_bytes(), b"application/json"),
    b"/stream": _reply((MOCK / "stream.sse").read_bytes(), b"text/event-stream"),
}


class _Upstream(asyncio.Protocol):
    """Keep-alive HTTP/1.1 that answers every request with one canned reply by path."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            if b"content-length:" in head:
                length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            if len(self.buffer) < head_end + 4 + length:
                return
            path = head.split(b" ")[1]
            self.buffer = self.buffer[head_end + 4 + length :]
            self.transport.write(_REPLIES[path])


def serve(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Upstream, "127.0.0.1", port)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


async def aiohttp_client(stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=1000, ttl_dns_cache=300, keepalive_timeout=30)
    session = aiohttp.ClientSession(connector=connector, read_bufsize=2**20, auto_decompress=True)
    headers = {"content-type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=60)

    async def call(url: str) -> int:
        async with session.post(url, data=BODY, headers=headers, timeout=timeout) as response:
            if not stream:
                return len(await response.read())
            return sum([len(chunk) async for chunk in response.content.iter_any()])

    return call, session.close


async def pyreqwest_client(stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from pyreqwest.client import ClientBuilder

    client = ClientBuilder().max_connections(1000).build()

    async def call(url: str) -> int:
        builder = client.post(url).header("content-type", "application/json").body_bytes(BODY)
        if not stream:
            response = await builder.build().send()
            return len(await response.bytes())
        size = 0
        async with builder.build_streamed() as response:
            while (chunk := await response.body_reader.read_chunk()) is not None:
                size += len(chunk)
        return size

    return call, client.close


async def httpr_client(stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import httpr

    client = httpr.AsyncClient(max_concurrency=64)
    headers = {"content-type": "application/json"}

    async def call(url: str) -> int:
        if not stream:
            response = await client.post(url, content=BODY, headers=headers)
            return len(response.content)
        async with client.stream("POST", url, content=BODY, headers=headers) as response:
            return sum([len(chunk) async for chunk in response.aiter_bytes()])

    return call, client.aclose


async def pool_client(kind: str, stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """The gateway's own transports (app/providers), adapters and timeouts included."""
    import aiohttp

    from app.providers.http import HttpPool
    from app.providers.reqwest import ReqwestPool

    pool: HttpPool | ReqwestPool = HttpPool() if kind == "aiohttp" else ReqwestPool()
    headers = {"content-type": "application/json"}
    timeout = (
        aiohttp.ClientTimeout(sock_connect=10, sock_read=60)
        if stream
        else aiohttp.ClientTimeout(total=60, sock_connect=10)
    )

    async def call(url: str) -> int:
        response = await pool.send(url, BODY, headers, timeout)
        try:
            if not stream:
                return len(await response.read())
            return sum([len(chunk) async for chunk in response.content.iter_any()])
        finally:
            response.release()

    return call, pool.close


async def gateway_aiohttp(stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    return await pool_client("aiohttp", stream)


async def gateway_reqwest(stream: bool) -> tuple[Call, Callable[[], Awaitable[None]]]:
    return await pool_client("pyreqwest", stream)


CANDIDATES = {
    "aiohttp": aiohttp_client,
    "pyreqwest": pyreqwest_client,
    "httpr": httpr_client,
    "HttpPool": gateway_aiohttp,
    "ReqwestPool": gateway_reqwest,
}
_MODULES = {"HttpPool": "aiohttp", "ReqwestPool": "pyreqwest"}


async def measure(name: str, url: str, requests: int, concurrency: int) -> tuple[float, float]:
    """CPU µs and wall µs per request for one candidate over ``requests`` calls."""
    call, close = await CANDIDATES[name](url.endswith("/stream"))
    for _ in range(200):  # warm the pool
        await call(url)
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if await call(url) <= 0:
                raise RuntimeError(f"{name}: empty body")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await close()
    return cpu / requests * 1e6, wall / requests * 1e6


def available(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18095)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return 0
    names = [name for name in CANDIDATES if available(_MODULES.get(name, name))]
    skipped = sorted(set(CANDIDATES) - set(names))
    upstream = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(args.port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for mode in ("plain", "stream"):
                url = f"http://127.0.0.1:{args.port}/{mode}"
                for name in names:
                    figure = asyncio.run(measure(name, url, args.requests, args.concurrency))
                    results.setdefault((mode, name), []).append(figure)
    finally:
        upstream.kill()
    print(f"{args.requests} requests x {args.rounds} rounds at c={args.concurrency}; medians")
    print(
        f"{'mode':<7} {'client':<12} {'CPU us/req':>11} {'wall us/req':>12} {'CPU vs aiohttp':>15}"
    )
    for mode in ("plain", "stream"):
        base = statistics.median(cpu for cpu, _ in results[(mode, "aiohttp")])
        for name in names:
            cpu = statistics.median(c for c, _ in results[(mode, name)])
            wall = statistics.median(w for _, w in results[(mode, name)])
            print(f"{mode:<7} {name:<12} {cpu:>11.1f} {wall:>12.1f} {cpu / base:>15.2f}")
    if skipped:
        print("skipped (not installed):", ", ".join(skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
