"""OpenAI chat completions ⇄ Anthropic Messages: pure translation, no I/O.

Requests: system/developer messages become ``system``; consecutive turns of one role are merged
(Anthropic wants user/assistant alternation), tool results are ``tool_result`` blocks of a user
turn, assistant ``tool_calls`` are ``tool_use`` blocks. Replies and stream events come back as
OpenAI completions and chunks: text → ``content``, thinking → ``reasoning_content``,
``tool_use`` → ``tool_calls`` (streamed ``input_json_delta`` → argument deltas).
:class:`AnthropicWire` is this translation as the ``anthropic`` wire format of
:class:`app.providers.http_provider.HttpProvider`.

Over 300 lines because it is one mapping read in both directions: the request, reply and stream
halves share the tables at the top, and splitting them would scatter what must change together.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from app.config.schema import AnthropicProviderConfig
from app.providers.base import ProviderRequest
from app.providers.wire_format import ErrorEvent, TranslationError
from app.wire.request import AudioPart, FilePart, ImagePart, Message, RefusalPart, TextPart
from app.wire.response import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    PromptTokensDetails,
    ToolCall,
    ToolCallDelta,
    Usage,
    encoder,
)

# Request parameters this translation maps onto Anthropic fields. The rest of OpenAI's (n,
# seed, penalties, logprobs, logit_bias...) have no Anthropic equivalent: dropped, or sent
# under their own names when the request says drop_params: false.
TRANSLATED_PARAMS = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "response_format",
        "reasoning_effort",
    }
)

# OpenAI reasoning_effort → thinking budget_tokens (Anthropic's minimum budget is 1024).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768}

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic error types (in error bodies and stream error events) → the HTTP status they come with.
ERROR_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicWire:
    """The ``anthropic`` wire format: ``x-api-key`` and ``anthropic-version`` headers, the
    Messages endpoint under ``base_url`` (``/v1`` added unless it is there already)."""

    label = "Anthropic"
    reply_name = "message"
    unfinished = "stream ended before message_stop"

    __slots__ = ("_headers", "_max_tokens", "url")

    def __init__(self, config: AnthropicProviderConfig) -> None:
        base = config.base_url.rstrip("/")
        self.url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        self._headers = {
            "content-type": "application/json",
            "anthropic-version": config.anthropic_version,
            **config.headers,
        }
        self._max_tokens = config.max_tokens

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = dict(self._headers)
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def body(self, request: ProviderRequest) -> bytes:
        body = build_body(
            request.model,
            request.messages,
            request.params,
            request.extra,
            drop_params=request.drop_params,
            default_max_tokens=self._max_tokens,
            stream=request.stream,
        )
        return encoder.encode(body)

    def completion(self, raw: bytes) -> ChatCompletion:
        return to_completion(message_decoder.decode(raw))

    def reader(self) -> StreamTranslator:
        return StreamTranslator()


# -- request ------------------------------------------------------------------------------------


def build_body(
    model: str,
    messages: list[Message],
    params: dict[str, Any],
    extra: dict[str, Any],
    *,
    drop_params: bool,
    default_max_tokens: int,
    stream: bool,
) -> dict[str, Any]:
    system, turns = translate_messages(messages)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": params.get("max_completion_tokens")
        or params.get("max_tokens")
        or default_max_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = system
    if (temperature := params.get("temperature")) is not None:
        body["temperature"] = min(temperature, 1.0)  # OpenAI's range is 0–2, Anthropic's 0–1
    for name in ("top_p", "top_k"):
        if params.get(name) is not None:
            body[name] = params[name]
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("tools"):  # Anthropic refuses a tool_choice without tools
        body["tools"] = [_tool(t) for t in params["tools"]]
        tool_choice = _tool_choice(params.get("tool_choice"), params.get("parallel_tool_calls"))
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if params.get("user"):
        body["metadata"] = {"user_id": params["user"]}
    output_format = _output_format(params.get("response_format"))
    if output_format is not None:
        body["output_config"] = {"format": output_format}
    effort = params.get("reasoning_effort")
    if effort is not None and effort != "none":
        if effort not in THINKING_BUDGETS:
            raise TranslationError(
                f"reasoning_effort must be one of none, {', '.join(THINKING_BUDGETS)}"
            )
        body["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}
    if not drop_params:
        body.update((k, v) for k, v in params.items() if k not in TRANSLATED_PARAMS)
    body.update(extra)
    _fit_thinking(body, drop_params)
    if stream:
        body["stream"] = True
    return body


def _fit_thinking(body: dict[str, Any], drop_params: bool) -> None:
    """Anthropic requires budget_tokens < max_tokens, and no temperature/top_k with thinking on.

    A max_tokens at or below the budget is taken to mean the answer's length, so the budget is
    added to it; the sampling parameters thinking forbids are dropped (unless drop_params is false).
    """
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if isinstance(budget, int) and body["max_tokens"] <= budget:
        body["max_tokens"] += budget
    if drop_params:
        body.pop("temperature", None)
        body.pop("top_k", None)
        if body.get("top_p", 1) < 0.95:
            body.pop("top_p")


def translate_messages(
    messages: list[Message],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, turns)``; turns alternate user/assistant, consecutive ones merged."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.role in ("system", "developer"):
            system.extend(b for b in _blocks(message.content, f"messages[{i}]", text_only=True))
            continue
        if message.role == "tool":
            role = "user"
            content = message.content
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": content
                    if isinstance(content, str)
                    else _blocks(content, f"messages[{i}]"),
                }
            ]
        elif message.role == "assistant":
            role = "assistant"
            blocks = _blocks(message.content, f"messages[{i}]", text_only=True)
            blocks.extend(
                _tool_use(call, f"messages[{i}].tool_calls[{j}]")
                for j, call in enumerate(message.tool_calls or ())
            )
        else:
            role = "user"
            blocks = _blocks(message.content, f"messages[{i}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _blocks(content: Any, where: str, *, text_only: bool = False) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, RefusalPart):
            continue  # Anthropic has no refusal blocks: an earlier refusal is dropped
        elif text_only:
            raise TranslationError(
                f"{where}.content[{j}]: only text parts are allowed in this message for Anthropic"
            )
        elif isinstance(part, ImagePart):
            blocks.append(
                {"type": "image", "source": _source(part.image_url.url, f"{where}.content[{j}]")}
            )
        elif isinstance(part, FilePart):
            blocks.append(_document(part.file, f"{where}.content[{j}]"))
        elif isinstance(part, AudioPart):
            raise TranslationError(f"{where}.content[{j}]: Anthropic does not accept audio input")
    return blocks


def _source(url: str, where: str) -> dict[str, Any]:
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    media_type, data = _data_url(url, where)
    return {"type": "base64", "media_type": media_type, "data": data}


def _data_url(url: str, where: str) -> tuple[str, str]:
    header, comma, data = url.partition(",")
    media_type, _, encoding = header[5:].partition(";")
    if not comma or encoding != "base64" or not media_type:
        raise TranslationError(f"{where}: expected a data:<media type>;base64,<data> URL")
    return media_type, data


def _document(file: dict[str, Any], where: str) -> dict[str, Any]:
    data_url = file.get("file_data")
    if not isinstance(data_url, str):
        raise TranslationError(
            f"{where}: Anthropic needs the file inline as file_data (file_id is provider-specific)"
        )
    media_type, data = _data_url(data_url, where)
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }
    if file.get("filename"):
        block["title"] = file["filename"]
    return block


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    arguments = call.function.arguments or "{}"
    try:
        parsed = msgspec.json.decode(arguments)
    except (msgspec.DecodeError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise TranslationError(f"{where}.function.arguments must be a JSON object")
    return {"type": "tool_use", "id": call.id, "name": call.function.name, "input": parsed}


def _tool(tool: Any) -> dict[str, Any]:
    function = tool.function
    spec: dict[str, Any] = {
        "name": function.name,
        "input_schema": function.parameters or {"type": "object", "properties": {}},
    }
    if function.description:
        spec["description"] = function.description
    return spec


def _tool_choice(choice: Any, parallel: bool | None) -> dict[str, Any] | None:
    result: dict[str, Any] | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": choice["function"].get("name", "")}
    else:
        raise TranslationError(
            "tool_choice must be 'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}"
        )
    if parallel is False:
        result = result or {"type": "auto"}
        result["disable_parallel_tool_use"] = True
    return result


def _output_format(response_format: Any) -> dict[str, Any] | None:
    """``json_schema`` → structured outputs. ``json_object`` has no Anthropic equivalent: dropped."""
    if (
        response_format is None
        or response_format.type != "json_schema"
        or response_format.json_schema is None
    ):
        return None
    return {
        "type": "json_schema",
        "schema": response_format.json_schema.schema or {"type": "object"},
    }


# -- replies ------------------------------------------------------------------------------------


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        """OpenAI's prompt_tokens counts cached input too; Anthropic reports it separately."""
        return (
            (self.input_tokens or 0)
            + (self.cache_creation_input_tokens or 0)
            + (self.cache_read_input_tokens or 0)
        )


class _Block(msgspec.Struct):
    type: str
    text: str = ""
    thinking: str = ""
    id: str = ""
    name: str = ""
    input: msgspec.Raw = msgspec.field(
        default_factory=lambda: msgspec.Raw(b"{}")
    )  # raw JSON: the arguments as is


class AnthropicMessage(msgspec.Struct):
    id: str = ""
    model: str = ""
    content: list[_Block] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    usage: _Usage | None = None


message_decoder = msgspec.json.Decoder(AnthropicMessage)


def to_completion(message: AnthropicMessage) -> ChatCompletion:
    texts, thoughts, calls = [], [], []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, FunctionCall(block.name, bytes(block.input).decode())))
    reply = AssistantMessage(content="".join(texts) if texts or not calls else None)
    if thoughts:
        reply.reasoning_content = "".join(thoughts)
    if calls:
        reply.tool_calls = calls
    usage = message.usage or _Usage()
    prompt, completion = usage.prompt_tokens, usage.output_tokens or 0
    return ChatCompletion(
        id=message.id,
        created=int(time.time()),
        model=message.model,
        choices=[Choice(index=0, message=reply, finish_reason=finish_reason(message.stop_reason))],
        usage=openai_usage(prompt, completion, usage.cache_read_input_tokens or 0),
    )


def openai_usage(prompt: int, completion: int, cached: int) -> Usage:
    """OpenAI's usage shape; Anthropic's cache reads become ``prompt_tokens_details``."""
    usage = Usage(prompt, completion, prompt + completion)
    if cached:
        usage.prompt_tokens_details = PromptTokensDetails(cached_tokens=cached)
    return usage


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


# -- streams ------------------------------------------------------------------------------------


class _Delta(msgspec.Struct):
    type: str = ""
    text: str = ""
    thinking: str = ""
    partial_json: str = ""
    stop_reason: str | None = None


class ErrorInfo(msgspec.Struct):
    type: str = ""
    message: str = ""


class StreamEvent(msgspec.Struct):
    """Every Anthropic SSE event in one shape; ``type`` says which fields are set."""

    type: str
    index: int = 0
    message: AnthropicMessage | None = None
    content_block: _Block | None = None
    delta: _Delta | None = None
    usage: _Usage | None = None
    error: ErrorInfo | None = None


event_decoder = msgspec.json.Decoder(StreamEvent)


class StreamTranslator:
    """Turns one stream's events into OpenAI chunks; holds that stream's state."""

    __slots__ = (
        "cached_tokens",
        "completion_tokens",
        "created",
        "done",
        "finished",
        "id",
        "model",
        "prompt_tokens",
        "tool_index",
    )

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.tool_index: dict[int, int] = {}  # content block index → OpenAI tool call index
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.completion_tokens = 0
        self.finished = False  # message_stop seen
        self.done = False  # the same: nothing follows message_stop

    def read(self, data: bytes) -> ChatCompletionChunk | None:
        """One SSE payload; raises ``msgspec.MsgspecError`` or, on an error event, ErrorEvent."""
        event = event_decoder.decode(data)
        if event.type == "error":
            error_type = event.error.type if event.error else ""
            raise ErrorEvent(ERROR_STATUSES.get(error_type, 500))
        return self.feed(event)

    def feed(self, event: StreamEvent) -> ChatCompletionChunk | None:
        kind = event.type
        if kind == "content_block_delta" and event.delta is not None:
            return self._delta(event.index, event.delta)
        if kind == "message_start" and event.message is not None:
            self.id, self.model = event.message.id, event.message.model
            self._count(event.message.usage)
            return self._chunk(Delta(role="assistant", content=""))
        if kind == "content_block_start" and event.content_block is not None:
            return self._start(event.index, event.content_block)
        if kind == "message_delta":
            self._count(event.usage)
            if event.delta is not None and event.delta.stop_reason is not None:
                return self._chunk(Delta(), finish_reason(event.delta.stop_reason))
            return None
        if kind == "message_stop":
            self.finished = self.done = True
            final = ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[]
            )
            final.usage = openai_usage(
                self.prompt_tokens, self.completion_tokens, self.cached_tokens
            )
            return final
        return None  # ping, content_block_stop, and event types added after this was written

    def _start(self, index: int, block: _Block) -> ChatCompletionChunk | None:
        if block.type == "tool_use":
            position = self.tool_index[index] = len(self.tool_index)
            call = ToolCallDelta(position, block.id, "function", FunctionCall(block.name, ""))
            return self._chunk(Delta(tool_calls=[call]))
        if block.type == "text" and block.text:
            return self._chunk(Delta(content=block.text))
        if block.type == "thinking" and block.thinking:
            return self._chunk(Delta(reasoning_content=block.thinking))
        return None

    def _delta(self, index: int, delta: _Delta) -> ChatCompletionChunk | None:
        if delta.type == "text_delta":
            return self._chunk(Delta(content=delta.text))
        if delta.type == "thinking_delta":
            return self._chunk(Delta(reasoning_content=delta.thinking))
        if delta.type == "input_json_delta" and delta.partial_json and index in self.tool_index:
            call = ToolCallDelta(
                self.tool_index[index], function=FunctionCall(arguments=delta.partial_json)
            )
            return self._chunk(Delta(tool_calls=[call]))
        return None  # signature_delta, citations_delta: nothing OpenAI-shaped to say

    def _count(self, usage: _Usage | None) -> None:
        # Anthropic's counts are cumulative: the latest event has the totals.
        if usage is None:
            return
        if usage.input_tokens is not None:
            self.prompt_tokens = usage.prompt_tokens
            self.cached_tokens = usage.cache_read_input_tokens or 0
        if usage.output_tokens is not None:
            self.completion_tokens = usage.output_tokens

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
        )
