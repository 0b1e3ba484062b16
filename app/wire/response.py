"""Completion and chunk shapes: what OpenAI-compatible providers return and what we send back.

Provider replies are decoded leniently (unknown fields ignored, ``logprobs`` kept as raw
JSON so it passes through untouched). Fields that OpenAI omits rather than nulls are
``UNSET`` so that encoding reproduces OpenAI's shape.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType


def _null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class FunctionCall(msgspec.Struct):
    name: str = ""
    arguments: str = ""


class ToolCall(msgspec.Struct):
    id: str
    function: FunctionCall
    type: str = "function"


class PromptTokensDetails(msgspec.Struct):
    cached_tokens: int = 0  # prompt tokens read from the provider's cache (billed lower)


class CompletionTokensDetails(msgspec.Struct):
    reasoning_tokens: int = 0  # completion tokens spent thinking (part of completion_tokens)


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | UnsetType | None = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType | None = UNSET
    # Timings in seconds (SambaNova's definitions); only set on responses we produce.
    time_to_first_token: float | UnsetType = UNSET
    throughput_after_first_token: float | UnsetType = UNSET
    model_execution_time: float | UnsetType = UNSET
    queue_time: float | UnsetType = UNSET
    # USD, priced by the route that answered (docs/spend.md); null when its price is unknown.
    cost: float | UnsetType | None = UNSET

    @property
    def cached_tokens(self) -> int:
        details = self.prompt_tokens_details
        return details.cached_tokens if isinstance(details, PromptTokensDetails) else 0

    @property
    def reasoning_tokens(self) -> int:
        details = self.completion_tokens_details
        return details.reasoning_tokens if isinstance(details, CompletionTokensDetails) else 0


class AssistantMessage(msgspec.Struct):
    content: str | None = None
    role: str = "assistant"
    reasoning_content: str | UnsetType | None = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET


class Choice(msgspec.Struct):
    index: int = 0
    message: AssistantMessage = msgspec.field(default_factory=AssistantMessage)
    finish_reason: str | None = None
    logprobs: msgspec.Raw = msgspec.field(default_factory=_null)
    completion_id: str | UnsetType = UNSET


class ChatCompletion(msgspec.Struct, kw_only=True):
    """An upstream ``chat.completion`` and, with the routing fields set, our response."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | UnsetType | None = UNSET
    episode_id: str | UnsetType = UNSET
    session_id: str | UnsetType | None = UNSET
    function: str | UnsetType | None = UNSET
    variant: str | UnsetType | None = UNSET
    ab_campaign: str | UnsetType | None = UNSET
    cached: bool | UnsetType = UNSET  # true when answered from the response cache


class ToolCallDelta(msgspec.Struct, omit_defaults=True):
    # Not defaulted to 0: that would omit it, and clients key streamed tool calls by index.
    # None only when an upstream left it out (read as 0).
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


class Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None
    logprobs: msgspec.Raw = msgspec.field(default_factory=_null)
    completion_id: str | UnsetType = UNSET


class ChatCompletionChunk(msgspec.Struct, kw_only=True):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    episode_id: str | UnsetType = UNSET
    session_id: str | UnsetType | None = UNSET
    function: str | UnsetType | None = UNSET
    variant: str | UnsetType | None = UNSET
    ab_campaign: str | UnsetType | None = UNSET
    cached: bool | UnsetType = UNSET  # on a cached stream's first chunk


completion_decoder = msgspec.json.Decoder(ChatCompletion)
chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
encoder = msgspec.json.Encoder()
