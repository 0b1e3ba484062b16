"""Turns :class:`InferenceRecord` batches into ``JSONEachRow`` payloads for ``inferences`` and
``model_inferences``.

JSON, not clickhouse-connect's row-by-row Native encoder: msgspec encodes a 5,000-row batch in
~10 ms of C code and ClickHouse parses it off the GIL, so the writer thread takes little CPU
from the event loop. Field names here are the column names in ``migrations/clickhouse``.
Values a client controls only land in ``String``/``Map``/``Array(String)`` columns, so no
request can make a batch unparseable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import msgspec

from app.records import AttemptRecord, FeedbackRecord, InferenceRecord


class InferenceRow(msgspec.Struct):
    id: str
    created_at: float
    function: str
    variant: str
    campaign: str
    sticky_unit: str
    session_id: str | None
    episode_id: str
    user: str
    api_key_id: str
    model: str
    provider: str
    provider_model: str
    status: str
    error: str
    input_messages: str
    system_prompt: str
    system_prompt_args: str
    params: str
    output: str
    finish_reason: str
    labels: dict[str, str]
    tags: list[str]
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: bool
    cost: float | None
    ttft_ms: float | None
    latency_ms: float
    queue_ms: float
    streamed: bool
    completion_ids: list[str]
    parent_completion_ids: list[str]
    config_version: int


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


INFERENCE_COLUMNS = list(InferenceRow.__struct_fields__)
ATTEMPT_COLUMNS = list(AttemptRow.__struct_fields__)
# Feedback records are already shaped like their table; only the spill tag ``kind`` is extra,
# and the insert names its columns, so ClickHouse skips it.
FEEDBACK_COLUMNS = list(FeedbackRecord.__struct_fields__)
_encoder = msgspec.json.Encoder()
_UINT32 = 2**32 - 1
_YIELD_EVERY = 64


def _count(value: int) -> int:
    return min(max(value, 0), _UINT32)


def inference_row(record: InferenceRecord) -> InferenceRow:
    return InferenceRow(
        id=record.id,
        created_at=record.created_at,
        function=record.function,
        variant=record.variant,
        campaign=record.campaign,
        sticky_unit=record.sticky_unit,
        session_id=record.session_id or None,
        episode_id=record.episode_id,
        user=record.user,
        api_key_id=record.api_key_id,
        model=record.model,
        provider=record.provider,
        provider_model=record.provider_model,
        status=record.status,
        error=record.error,
        input_messages=record.input_messages,
        system_prompt=record.system_prompt,
        system_prompt_args=record.system_prompt_args,
        params=record.params,
        output=record.output,
        finish_reason=record.finish_reason,
        labels=record.labels,
        tags=record.tags,
        prompt_tokens=_count(record.prompt_tokens),
        completion_tokens=_count(record.completion_tokens),
        usage_estimated=record.usage_estimated,
        cost=record.cost,
        ttft_ms=record.ttft_ms,
        latency_ms=record.latency_ms,
        queue_ms=record.queue_ms,
        streamed=record.streamed,
        completion_ids=record.completion_ids,
        parent_completion_ids=record.parent_completion_ids,
        config_version=_count(record.config_version),
    )


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
    """Both payloads of a batch. Runs in the writer thread; every ``_YIELD_EVERY`` records it
    offers the GIL to the event loop (a few µs of row building each), so a large batch delays a
    request by well under a millisecond instead of up to the 5 ms switch interval."""
    inferences: list[InferenceRow] = []
    attempts: list[AttemptRow] = []
    for i, record in enumerate(records, start=1):
        inferences.append(inference_row(record))
        attempts.extend(attempt_row(record, a, n) for n, a in enumerate(record.attempts, start=1))
        if i % _YIELD_EVERY == 0:
            time.sleep(0)
    return Payloads(
        _encoder.encode_lines(inferences), _encoder.encode_lines(attempts), len(attempts)
    )


def encode_feedback(records: Iterable[FeedbackRecord]) -> bytes:
    return _encoder.encode_lines(list(records))
