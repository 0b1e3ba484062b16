"""Streaming time to first byte, one request at a time over one keep-alive connection.

    python ttfb.py HOST PORT PATH BODY_FILE N [--auth TOKEN] [--warmup W]

For each request it records, with ``time.perf_counter_ns``:
  * ``ttfb``  : request written -> first byte of the first SSE event (``data:``) received;
  * ``total`` : request written -> end of the response body (chunked or Content-Length).
Every answer must be a 200 whose stream carries the mock's text and ends with ``data: [DONE]``
(otherwise it counts as an error). Prints one JSON line: n, errors, p50/p90/p99 of both, in ms.

The client is a plain blocking socket with TCP_NODELAY (no HTTP library), so its own cost is a
few microseconds and the same for every target: the difference between targets is the gateway.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Conn:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by peer")
        self.buf += data

    def one(self, request: bytes) -> tuple[int, int, int, bytes]:
        """Send one request; return (status, ttfb_ns, total_ns, body)."""
        self.buf = b""
        start = time.perf_counter_ns()
        self.sock.sendall(request)
        first_data = 0
        while b"\r\n\r\n" not in self.buf:
            self.recv()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        self.buf = rest
        body = b""
        if headers.get(b"transfer-encoding") == b"chunked":
            while True:
                while b"\r\n" not in self.buf:
                    self.recv()
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    if not first_data and b"data:" in body + self.buf:
                        first_data = time.perf_counter_ns()
                    self.recv()
                chunk, self.buf = self.buf[:size], self.buf[size + 2 :]
                body += chunk
                if not first_data and b"data:" in body:
                    first_data = time.perf_counter_ns()
                if size == 0:
                    break
        else:
            length = int(headers.get(b"content-length", b"0"))
            while len(self.buf) < length:
                if not first_data and b"data:" in self.buf:
                    first_data = time.perf_counter_ns()
                self.recv()
            body, self.buf = self.buf[:length], self.buf[length:]
            if not first_data and b"data:" in body:
                first_data = time.perf_counter_ns()
        end = time.perf_counter_ns()
        if headers.get(b"connection") == b"close":
            self.sock.close()
            self.sock = None  # type: ignore[assignment]
        return status, (first_data or end) - start, end - start, body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("body_file")
    parser.add_argument("n", type=int)
    parser.add_argument("--auth", default="")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    body = open(args.body_file, "rb").read()
    head = (
        f"POST {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if args.auth:
        head += f"Authorization: Bearer {args.auth}\r\n"
    request = head.encode() + b"\r\n" + body

    conn = Conn(args.host, args.port)
    ttfb: list[float] = []
    total: list[float] = []
    errors = 0
    sample = ""
    for i in range(args.warmup + args.n):
        if conn.sock is None:
            conn = Conn(args.host, args.port)
        try:
            status, first, whole, payload = conn.one(request)
        except (OSError, ValueError) as exc:
            errors += 1
            sample = sample or repr(exc)
            conn = Conn(args.host, args.port)
            continue
        good = status == 200 and b"shipped" in payload and b"data: [DONE]" in payload
        if not good:
            errors += 1
            sample = sample or f"{status} {payload[:200]!r}"
        if i >= args.warmup and good:
            ttfb.append(first / 1e6)
            total.append(whole / 1e6)
    print(
        json.dumps(
            {
                "label": args.label,
                "n": len(ttfb),
                "errors": errors,
                "ttfb_p50_ms": round(percentile(ttfb, 50), 3),
                "ttfb_p90_ms": round(percentile(ttfb, 90), 3),
                "ttfb_p99_ms": round(percentile(ttfb, 99), 3),
                "ttfb_mean_ms": round(statistics.fmean(ttfb), 3) if ttfb else None,
                "total_p50_ms": round(percentile(total, 50), 3),
                "total_p99_ms": round(percentile(total, 99), 3),
                "first_error": sample,
            }
        )
    )


if __name__ == "__main__":
    main()
