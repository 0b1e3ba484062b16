"""UUIDv7 ids (RFC 9562 §5.7): the bit layout, the embedded timestamp, ordering, uniqueness."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from types import SimpleNamespace

import pytest

from app import ids
from app.ids import uuid7_str, uuid7_time

CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MS = 0x0123_4567_89AB  # a 48-bit Unix-millisecond timestamp


@pytest.fixture(autouse=True)
def _fresh_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no id minted yet."""
    monkeypatch.setattr(ids, "_last_ms", -1)
    monkeypatch.setattr(ids, "_counter", 0)


def _at(monkeypatch: pytest.MonkeyPatch, ms: int) -> None:
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: ms * 1_000_000 + 999_999))


def _random(monkeypatch: pytest.MonkeyPatch, ten_bytes: bytes) -> None:
    monkeypatch.setattr(ids, "_pool", bytearray(ten_bytes))


def test_canonical_text_form_parses_as_version_7_rfc_variant() -> None:
    text = uuid7_str()
    assert CANONICAL.match(text), text
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize(
    ("random_bytes", "expected"),
    [
        # rand_a (12 bits) and rand_b (62 bits) all zero: only version 7 and variant 0b10 are set.
        (bytes(10), "01234567-89ab-7000-8000-000000000000"),
        # all ones: the version nibble and the variant bits still read 7 and 0b10.
        (b"\xff" * 10, "01234567-89ab-7fff-bfff-ffffffffffff"),
    ],
)
def test_bit_layout(monkeypatch: pytest.MonkeyPatch, random_bytes: bytes, expected: str) -> None:
    _at(monkeypatch, MS)
    _random(monkeypatch, random_bytes)
    assert uuid7_str() == expected


def test_random_bits_fill_rand_a_and_rand_b(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, MS)
    _random(monkeypatch, bytes.fromhex("abc0_0000_0000_0000_0001".replace("_", "")))
    value = uuid.UUID(uuid7_str()).int
    assert (value >> 64) & 0xFFF == 0xABC  # rand_a: the top 12 random bits
    assert value & ((1 << 62) - 1) == 1  # rand_b: the low 62 random bits


def test_timestamp_is_the_current_unix_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(uuid7_str()).int
    after = time.time_ns() // 1_000_000
    assert before <= value >> 80 <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    minted = []
    for ms in (MS, MS + 1, MS + 2, MS + 1_000, MS + 86_400_000):
        _at(monkeypatch, ms)
        minted += [uuid7_str() for _ in range(20)]
    by_time = [uuid.UUID(i).int >> 80 for i in minted]
    assert by_time == sorted(by_time)
    # Text order follows time order, across millisecond boundaries.
    boundaries = [minted[i * 20 : (i + 1) * 20] for i in range(5)]
    for earlier, later in itertools.pairwise(boundaries):
        assert max(earlier) < min(later)


def test_ids_are_unique_across_random_pool_refills() -> None:
    count = 3 * ids._REFILL // ids._RAND_BYTES  # several refills of the random pool
    minted = {uuid7_str() for _ in range(count)}
    assert len(minted) == count


def test_ids_within_one_millisecond_are_strictly_increasing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 9562 §6.2 method 1: rand_a counts up within the millisecond."""
    _at(monkeypatch, MS)
    minted = [uuid7_str() for _ in range(1000)]
    assert minted == sorted(minted) and len(set(minted)) == len(minted)
    values = [uuid.UUID(i).int for i in minted]
    assert all(v >> 80 == MS for v in values[:2])  # no borrowing while the counter lasts
    assert all(uuid.UUID(i).version == 7 for i in minted)


def test_counter_overflow_borrows_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, MS)
    monkeypatch.setattr(ids, "_pool", bytearray(b"\xff" * 10 * 4096))  # seed at 0xfff: no room
    first, second, third = uuid7_str(), uuid7_str(), uuid7_str()
    assert first < second < third
    assert uuid.UUID(second).int >> 80 == MS + 1


def test_a_clock_that_steps_back_does_not_reorder_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, MS + 5)
    later = uuid7_str()
    _at(monkeypatch, MS)
    assert uuid7_str() > later


def test_ids_from_threads_are_unique_and_each_thread_sees_them_increase() -> None:
    import threading

    results: list[list[str]] = [[] for _ in range(4)]

    def mint(out: list[str]) -> None:
        out.extend(uuid7_str() for _ in range(2000))

    threads = [threading.Thread(target=mint, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == sorted(r) for r in results)
    assert len({i for r in results for i in r}) == 8000


def test_uuid7_time_reads_the_minting_millisecond() -> None:
    before = time.time()
    minted = uuid7_time(uuid7_str())
    assert minted is not None and before - 0.002 <= minted <= time.time() + 0.002
    assert uuid7_time(str(uuid.uuid4())) is None
    assert uuid7_time("not-an-id") is None
    assert uuid7_time("zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz") is None
