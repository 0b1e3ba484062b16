"""UUIDv7 ids (RFC 9562): time-ordered, so ClickHouse rows and ids sort together.

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

_lock = threading.Lock()
_pool = bytearray()


def _random80() -> int:
    global _pool
    with _lock:
        if len(_pool) < _RAND_BYTES:
            _pool = bytearray(os.urandom(_REFILL))
        chunk = _pool[-_RAND_BYTES:]
        del _pool[-_RAND_BYTES:]
    return int.from_bytes(chunk, "big")


def _uuid7_int() -> int:
    ms = time.time_ns() // 1_000_000
    rand = _random80()
    return (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (rand >> 68) << 64
        | 0b10 << 62
        | (rand & _RAND_B_MASK)
    )


def uuid7_str() -> str:
    """The canonical text form, without building a ``uuid.UUID`` (ids are minted per request)."""
    h = f"{_uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
