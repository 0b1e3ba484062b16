"""Turns :class:`InferenceRecord` batches into ``JSONEachRow`` payloads for ``inferences`` and
``model_inferences``.

An inference record is its own row: msgspec encodes it as it is (C code, ~1.2 µs a row, with
the GIL held), without its attempts (they have their own table) and with the routing tag
``kind`` left for ClickHouse to skip (``input_format_skip_unknown_fields``). Building a
separate row struct first cost ~15 µs a row of Python in the writer thread, holding the GIL
the event loop needs (docs/performance.md). Values a client controls only land in
``String``/``Map``/``Array(String)`` columns, and counts are clamped to ``UInt32``, so no
request can make a batch unparseable.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from app.records import AttemptRecord, FeedbackRecord, InferenceRecord


class AttemptRow(msgspec.Struct):
    id: str
    inference_id: str
    attempt: int
    created_at: float
    function: str
    variant: str
    provider: str
    provider_type: str
    model: str
    status: str
    error: str
    http_status: int | None
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    raw_request: str
    raw_response: str


_NOT_COLUMNS = {"attempts", "stored"}
INFERENCE_COLUMNS = [f for f in InferenceRecord.__struct_fields__ if f not in _NOT_COLUMNS]
ATTEMPT_COLUMNS = list(AttemptRow.__struct_fields__)
# Feedback records are already shaped like their table; only the spill tag ``kind`` is extra,
# and the insert names its columns, so ClickHouse skips it.
FEEDBACK_COLUMNS = list(FeedbackRecord.__struct_fields__)
_encoder = msgspec.json.Encoder()
_UINT32 = 2**32 - 1
_COUNTS = ("prompt_tokens", "completion_tokens", "config_version")
_NO_ATTEMPTS: list[AttemptRecord] = []  # shared and never appended to


def _count(value: int) -> int:
    return min(max(value, 0), _UINT32)


def inference_row(record: InferenceRecord) -> InferenceRecord:
    """The record as its row (a shallow copy): without its attempts, no session as NULL, counts
    clamped (ClickHouse refuses a whole batch over one negative count)."""
    row = msgspec.structs.replace(
        record, attempts=_NO_ATTEMPTS, session_id=record.session_id or None
    )
    for name in _COUNTS:
        value = getattr(row, name)
        if not 0 <= value <= _UINT32:
            setattr(row, name, _count(value))
    return row


def attempt_row(record: InferenceRecord, attempt: AttemptRecord, number: int) -> AttemptRow:
    return AttemptRow(
        id=attempt.id,
        inference_id=record.id,
        attempt=min(number, 255),
        created_at=attempt.started_at,
        function=record.function,
        variant=record.variant,
        provider=attempt.provider,
        provider_type=attempt.provider_type,
        model=attempt.model,
        status=attempt.status,
        error=attempt.error,
        http_status=attempt.http_status
        if attempt.http_status and 0 < attempt.http_status < 65536
        else None,
        latency_ms=attempt.latency_ms,
        ttft_ms=attempt.ttft_ms,
        prompt_tokens=_count(attempt.prompt_tokens),
        completion_tokens=_count(attempt.completion_tokens),
        cost=attempt.cost,
        raw_request=attempt.raw_request,
        raw_response=attempt.raw_response,
    )


class Payloads(msgspec.Struct, frozen=True):
    inferences: bytes
    attempts: bytes
    attempt_count: int


def encode_batch(records: Iterable[InferenceRecord]) -> Payloads:
    """Both payloads of a batch. Runs in the writer thread."""
    rows: list[InferenceRecord] = []
    attempts: list[AttemptRow] = []
    for record in records:
        rows.append(inference_row(record))
        attempts.extend(attempt_row(record, a, n) for n, a in enumerate(record.attempts, start=1))
    return Payloads(_encoder.encode_lines(rows), _encoder.encode_lines(attempts), len(attempts))


def encode_feedback(records: Iterable[FeedbackRecord]) -> bytes:
    return _encoder.encode_lines(list(records))
