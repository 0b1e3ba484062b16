"""What every inference leaves behind, and the interface of whoever keeps it.

The pipeline builds one :class:`InferenceRecord` at the end of every request (streaming,
failed and cancelled ones included) and hands it to a :class:`Recorder`, whose ``record`` must
never block or raise: the request has already been answered.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class AttemptRecord(msgspec.Struct, kw_only=True):
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


class InferenceRecord(msgspec.Struct, kw_only=True, tag_field="kind", tag="inference"):
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
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    queue_ms: float = 0.0
    streamed: bool = False
    completion_ids: list[str] = msgspec.field(default_factory=list)
    parent_completion_ids: list[str] = msgspec.field(default_factory=list)
    attempts: list[AttemptRecord] = msgspec.field(default_factory=list)


class Recorder(Protocol):
    def record(self, record: InferenceRecord) -> None:
        """Accept a record for storage. Must not block the event loop and must not raise."""
