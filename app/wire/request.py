"""The chat completion request: the union of what the five seed vendors accept.

Decoding into these Structs *is* the validation: types, ranges and enums are declared here,
and :func:`decode_chat_request` turns msgspec's error into a 400 that names the parameter.

Length: one Struct per message and content-part kind of the union of five vendors' APIs,
kept in one module so the whole accepted shape reads in one place (about 330 lines).
Unknown fields are ignored here; :func:`extra_fields` recovers them for ``drop_params=false``.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, field

from app.errors import InvalidRequest
from app.wire.limits import (
    DEFAULT_LIMITS,
    InputLimits,
    Labels,
    N,
    Tag,
    Tags,
    check_labels,
    check_n,
    check_tags,
)

Temperature = Annotated[float, Meta(ge=0, le=2)]
UnitInterval = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]
PositiveInt = Annotated[int, Meta(ge=1)]
T = TypeVar("T")


class ImageUrl(msgspec.Struct, omit_defaults=True):
    url: str
    detail: str | None = None


class TextPart(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ImagePart(msgspec.Struct, tag="image_url", tag_field="type"):
    image_url: ImageUrl


class FilePart(msgspec.Struct, tag="file", tag_field="type"):
    file: dict[str, Any]


class AudioPart(msgspec.Struct, tag="input_audio", tag_field="type"):
    input_audio: dict[str, Any]


class RefusalPart(msgspec.Struct, tag="refusal", tag_field="type"):
    """An assistant's refusal, as OpenAI returns it and clients send it back in history.
    Passed to providers that take it (openai); dropped for Anthropic."""

    refusal: str


ContentPart = TextPart | ImagePart | FilePart | AudioPart | RefusalPart


class FunctionCall(msgspec.Struct):
    name: str
    arguments: str


class ToolCall(msgspec.Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


Role = Literal["system", "developer", "user", "assistant", "tool"]


class Message(msgspec.Struct, omit_defaults=True):
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None  # an assistant's refusal (OpenAI); dropped for Anthropic
    # Adaptive: links an assistant message to an earlier inference. Never sent upstream.
    completion_id: str | None = None


class FunctionDefinition(msgspec.Struct, omit_defaults=True):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(msgspec.Struct, omit_defaults=True):
    """Either an OpenAI tool (``type`` + ``function``) or an Adaptive toggle (``id`` + ``enabled``)."""

    type: Literal["function"] | None = None
    function: FunctionDefinition | None = None
    id: str | None = None
    enabled: bool | None = None


class StreamOptions(msgspec.Struct, omit_defaults=True):
    include_usage: bool = False


class JsonSchemaFormat(msgspec.Struct, omit_defaults=True):
    name: str
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


CacheMode = Literal["on", "off", "read_only", "write_only"]


class CacheOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``cache_options`` (docs/operations.md, "Response cache"): whether this request may be
    answered from the cache and/or fill it, and how old an answer it accepts."""

    enabled: CacheMode = "on"
    max_age_s: PositiveInt | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    model: str = ""
    messages: Annotated[list[Message], Meta(min_length=1)]
    # OpenAI
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    temperature: Temperature | None = None
    top_p: UnitInterval | None = None
    n: N | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    logit_bias: dict[str, Annotated[float, Meta(ge=-100, le=100)]] | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    reasoning_effort: str | None = None  # OpenAI reasoning models; mapped to thinking for Anthropic
    metadata: Labels | None = None
    store: bool = True
    # vLLM / TIR
    top_k: int | None = None
    min_p: UnitInterval | None = None
    repetition_penalty: Annotated[float, Meta(gt=0)] | None = None
    guided_json: dict[str, Any] | str | None = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None
    structural_tag: str | dict[str, Any] | None = None
    guided_decoding_backend: str | None = None
    guided_whitespace_pattern: str | None = None
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    mm_processor_kwargs: dict[str, Any] | None = None
    # Adaptive
    session_id: uuid.UUID | None = None
    ab_campaign: str | None = None
    labels: Labels | None = None
    system_prompt_args: dict[str, Any] | None = None
    tags: Tags | Tag | None = None
    use_tools: bool | None = None
    max_ttft_ms: PositiveInt | None = None
    cache_options: CacheOptions | None = None
    # TensorZero
    tz_episode_id: uuid.UUID | None = field(default=None, name="tensorzero::episode_id")
    tz_variant_name: str | None = field(default=None, name="tensorzero::variant_name")
    tz_tags: Labels | None = field(default=None, name="tensorzero::tags")
    tz_dryrun: bool = field(default=False, name="tensorzero::dryrun")
    tz_cache_options: CacheOptions | None = field(default=None, name="tensorzero::cache_options")
    episode_id: uuid.UUID | None = None
    # Unify
    drop_params: bool = True
    log_query_body: bool = True
    log_response_body: bool = True
    signature: str | None = None
    region: str | None = None
    use_custom_keys: bool | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


# Sampling parameters forwarded to OpenAI-compatible providers, in wire order.
OPENAI_PARAMS = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "reasoning_effort",
)
VLLM_PARAMS = (
    "top_k",
    "min_p",
    "repetition_penalty",
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "structural_tag",
    "guided_decoding_backend",
    "guided_whitespace_pattern",
    "chat_template",
    "chat_template_kwargs",
    "mm_processor_kwargs",
)
KNOWN_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(ChatRequest))

_decoder = msgspec.json.Decoder(ChatRequest)
_any_decoder = msgspec.json.Decoder(dict[str, Any])
_PATH = re.compile(r" - at (?:`key` in )?`\$\.?(.*)`$")  # a dict key: "at `key` in `$.labels`"
_MISSING = re.compile(r"missing required field `([^`]+)`")


def decode_chat_request(body: bytes, limits: InputLimits = DEFAULT_LIMITS) -> ChatRequest:
    """Parse and type-check a request body, or raise a 400 naming the offending parameter."""
    request = decode_or_400(_decoder, body)
    check_semantics(request)
    if limits.lowered:
        check_request_limits(request, limits)
    return request


def check_request_limits(request: ChatRequest, limits: InputLimits) -> None:
    """Limits a deployment lowered below the ceilings the Struct declares."""
    check_n(request.n, limits)
    check_labels(request.labels, "labels", limits)
    check_labels(request.metadata, "metadata", limits)
    check_labels(request.tz_tags, "tensorzero::tags", limits)
    check_tags(request.tags, limits)


def decode_or_400(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """Decode a request body; a type error becomes a 400 naming the parameter."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise invalid_value(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise undecodable(exc) from None


def undecodable(exc: UnicodeDecodeError | RecursionError) -> InvalidRequest:
    """msgspec raises these, not ``DecodeError``, for invalid UTF-8 inside a JSON string and
    for nesting deeper than the interpreter's recursion limit."""
    if isinstance(exc, UnicodeDecodeError):
        return InvalidRequest(
            f"Request body is not valid UTF-8: invalid byte at position {exc.start}",
            code="invalid_utf8",
        )
    return InvalidRequest("Request body is nested too deeply", code="nesting_too_deep")


def extra_fields(body: bytes) -> dict[str, Any]:
    """Top-level fields the gateway does not know, for passthrough when ``drop_params`` is false."""
    raw = decode_or_400(_any_decoder, body)
    return {k: v for k, v in raw.items() if k not in KNOWN_FIELDS}


def check_semantics(request: ChatRequest) -> None:
    """Rules a type cannot express."""
    for i, message in enumerate(request.messages):
        if message.role == "tool" and not message.tool_call_id:
            raise InvalidRequest(
                "A message with role 'tool' needs a tool_call_id",
                param=f"messages[{i}].tool_call_id",
            )
        if message.role in ("user", "system", "developer") and message.content is None:
            raise InvalidRequest(
                f"A message with role '{message.role}' needs content",
                param=f"messages[{i}].content",
            )
        if message.role != "assistant" and not isinstance(message.content, str | None):
            for j, part in enumerate(message.content):
                if isinstance(part, RefusalPart):
                    raise InvalidRequest(
                        "Only assistant messages may hold refusal parts",
                        param=f"messages[{i}].content[{j}]",
                    )
    for i, tool in enumerate(request.tools or ()):
        is_openai = tool.function is not None and tool.type == "function"
        is_toggle = tool.id is not None and tool.function is None
        if not (is_openai or is_toggle):
            raise InvalidRequest(
                "Each tool must be {'type': 'function', 'function': {'name': ...}} "
                "or {'id': ..., 'enabled': bool}",
                param=f"tools[{i}]",
            )
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema" and fmt.json_schema is None:
        raise InvalidRequest(
            "response_format of type 'json_schema' needs a json_schema object",
            param="response_format.json_schema",
        )
    if request.top_logprobs is not None and not request.logprobs:
        raise InvalidRequest("top_logprobs requires logprobs to be true", param="top_logprobs")


def _param_of(message: str) -> str | None:
    missing = _MISSING.search(message)
    path = _PATH.search(message)
    prefix = path.group(1).replace("[...]", "") if path else ""  # msgspec hides dict keys
    if missing:
        return f"{prefix}.{missing.group(1)}" if prefix else missing.group(1)
    return prefix or None


def invalid_value(message: str) -> InvalidRequest:
    """A msgspec validation message as a 400 naming the parameter it points at."""
    param = _param_of(message)
    text = _PATH.sub("", message)
    return InvalidRequest(f"Invalid value for '{param}': {text}" if param else text, param=param)
