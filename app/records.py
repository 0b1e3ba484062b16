"""The records that cross layers, and the interface of whoever keeps them.

Type flow (every record is produced above the store and consumed by it, never the reverse):

- :class:`InferenceRecord` (with its :class:`AttemptRecord` s) is built by the inference
  pipeline (``app.inference``) at the end of every request, streaming, failed and cancelled ones
  included, and handed to a :class:`Recorder`. The gateway's recorder (``app.store.recorder``)
  queues it for ClickHouse (``app.store.clickhouse``: rows, spill files) and remembers its ids.
- :class:`FeedbackRecord` is built by ``app.feedback`` from a validated request and queued
  through the same writer.
- :class:`TargetInfo` goes the other way: the store answers "what does this id belong to?" with
  it (recent ids in memory, older ones from ClickHouse), and ``app.feedback`` copies its routing
  onto the feedback row.

A leaf: it imports nothing from ``app``, so every layer may use it.

Records are not tracked by the cyclic garbage collector (``gc=False``): they hold only strings,
numbers and containers of them, so they cannot be part of a cycle, and tens of thousands of them
wait in the write queue and the recent-ids cache at any time. Tracked, they made each full
collection scan them (docs/performance.md, "Garbage collection pauses").
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

Level = Literal["inference", "episode"]


class AttemptRecord(msgspec.Struct, kw_only=True, gc=False):
    """One call to one provider; fallbacks produce several per inference."""

    id: str
    inference_id: str
    provider: str
    provider_type: str
    model: str
    started_at: float  # unix seconds
    latency_ms: float
    ttft_ms: float | None = None
    status: str  # ok | error | cancelled
    error: str = ""
    http_status: int | None = None
    raw_request: str = ""
    raw_response: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None  # USD; None for failed tries and routes without a known price


class InferenceRecord(msgspec.Struct, kw_only=True, gc=False, tag_field="kind", tag="inference"):
    id: str
    created_at: float  # unix seconds
    config_version: int
    function: str = ""
    variant: str = ""
    campaign: str = ""
    sticky_unit: str = ""
    session_id: str = ""
    episode_id: str
    user: str = ""
    api_key_id: str = ""
    model: str  # as the client asked
    served_model: str = ""  # the configured model that served it (a function's: its variant's)
    provider: str = ""
    provider_model: str = ""
    status: str  # ok | error | cancelled
    error: str = ""
    input_messages: str = ""  # JSON; empty when log_query_body is false
    system_prompt: str = ""
    system_prompt_args: str = ""  # JSON
    params: str = ""  # JSON
    output: str = ""  # JSON list of choices; empty when log_response_body is false
    finish_reason: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    tags: list[str] = msgspec.field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False
    cost: float | None = None  # USD at the answering route's price; None when unknown
    cached: bool = False  # answered from the response cache: cost 0, cost_saved what it would be
    cost_saved: float | None = None
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    queue_ms: float = 0.0
    streamed: bool = False
    completion_ids: list[str] = msgspec.field(default_factory=list)
    parent_completion_ids: list[str] = msgspec.field(default_factory=list)
    attempts: list[AttemptRecord] = msgspec.field(default_factory=list)
    # False for an inference the request asked not to store: only budgets count it (its cost);
    # metrics and ClickHouse skip it.
    stored: bool = True


class FeedbackRecord(msgspec.Struct, kw_only=True, gc=False, tag_field="kind", tag="feedback"):
    """One feedback row; its fields are the columns of the ``feedback`` table."""

    id: str
    created_at: float
    target_id: str
    target_level: Level
    inference_id: str | None
    episode_id: str | None
    metric: str
    type: str
    value: float | None
    value_text: str
    tags: dict[str, str]
    comment: str
    function: str
    variant: str
    campaign: str
    api_key_id: str


class TargetInfo(msgspec.Struct, frozen=True, gc=False):
    """What an id resolves to: the inference it belongs to (None for an episode) and that
    inference's routing, copied onto the feedback row so results need no join."""

    inference_id: str | None
    episode_id: str
    function: str
    variant: str
    campaign: str


class Recorder(Protocol):
    def record(self, record: InferenceRecord) -> None:
        """Accept a record for storage. Must not block the event loop and must not raise: the
        request has already been answered."""
