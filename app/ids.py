"""UUIDv7 ids (RFC 9562): time-ordered, so ClickHouse rows and ids sort together.

Monotonic within a process, also within one millisecond, by RFC 9562 §6.2 method 1 (a
fixed-length dedicated counter): the 12 ``rand_a`` bits are a counter, seeded at random on
each new millisecond and incremented for every further id in the same one. Should the counter
overflow (more than a few thousand ids in a millisecond), or the clock step back, the
timestamp is advanced past the last one used instead, so ids never go backwards.

Randomness comes from the OS (``os.urandom``), fetched 4 KiB at a time: on some virtual
machines each ``getrandom`` call costs tens of microseconds, and a request mints several ids.
"""

from __future__ import annotations

import os
import threading
import time

_RAND_BYTES = 10  # 12 bits of rand_a + 62 of rand_b, with 6 bits to spare
_RAND_B_MASK = (1 << 62) - 1
_REFILL = 4096

_COUNTER_MAX = 0xFFF  # rand_a

_lock = threading.Lock()
_pool = bytearray()
_last_ms = -1
_counter = 0


def _random80() -> int:
    """Ten random bytes; call with ``_lock`` held."""
    global _pool
    if len(_pool) < _RAND_BYTES:
        _pool = bytearray(os.urandom(_REFILL))
    chunk = _pool[-_RAND_BYTES:]
    del _pool[-_RAND_BYTES:]
    return int.from_bytes(chunk, "big")


def _uuid7_int() -> int:
    global _last_ms, _counter
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        rand = _random80()
        if now_ms > _last_ms:
            ms, counter = now_ms, rand >> 68  # a new millisecond: seed the counter at random
        elif _counter < _COUNTER_MAX:
            ms, counter = _last_ms, _counter + 1  # same millisecond (or the clock stepped back)
        else:
            ms, counter = _last_ms + 1, rand >> 68  # counter exhausted: borrow the next ms
        _last_ms, _counter = ms, counter
    return (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | (rand & _RAND_B_MASK)
    )


def uuid7_str() -> str:
    """The canonical text form, without building a ``uuid.UUID`` (ids are minted per request)."""
    h = f"{_uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_time(text: str) -> float | None:
    """The unix time (seconds) a UUIDv7's first 48 bits carry, or None for any other text."""
    h = text.replace("-", "")
    if len(h) != 32 or h[12] != "7":
        return None
    try:
        return int(h[:12], 16) / 1000
    except ValueError:
        return None
