"""The logged input and output of one inference, by id: what ``previous_response_id`` reads.

A point read through ``inference_by_id`` and the sort key of ``inferences`` (as
:meth:`Reader.target`). A response a client chains from is often only a moment old, so its
row may still be in a writer's queue, this process's or another worker's: while it may be in
flight (:meth:`RecentIds.in_flight_until`), the read is repeated until the row lands (writers
flush every ``write_interval_s``) or ``wait_s`` passes.
"""

from __future__ import annotations

import msgspec

from app.store.clickhouse.query import Reader
from app.store.clickhouse.recent import RecentIds, read_until

_POLL_S = 0.1


class LoggedTurn(msgspec.Struct, frozen=True):
    """One logged inference as a conversation turn (JSON strings as stored)."""

    id: str
    api_key_id: str
    status: str
    input_messages: str  # empty when the request said log_query_body: false
    output: str  # JSON list of choices; empty when log_response_body was false


_SQL = """
SELECT toString(id), api_key_id, toString(status), input_messages, output
FROM inferences
WHERE (function, variant, created_at, id) IN (
    SELECT function, variant, created_at, inference_id FROM inference_by_id
    WHERE id = toUUIDOrZero({id:String}) AND kind = 'inference'
)
LIMIT 1
"""


async def logged_turn(
    reader: Reader, recent: RecentIds, inference_id: str, *, wait_s: float
) -> LoggedTurn | None:
    """The inference ``inference_id`` as logged, or None when there is none (or it never
    reached ClickHouse within ``wait_s`` while it may still be in flight)."""

    async def read() -> list[tuple[object, ...]] | None:
        return await reader.rows(_SQL, {"id": inference_id}) or None

    until = recent.in_flight_until(inference_id, "inference", wait_s)
    rows = await read_until(read, until, _POLL_S)
    return LoggedTurn(*(str(value) for value in rows[0])) if rows else None
