"""The Responses API request (``POST /v1/responses``): what Switchyard accepts of OpenAI's shape.

Decoding into these Structs *is* the validation, as for chat (app/wire/request.py): types,
ranges and enums are declared here and a violation is an :class:`InvalidRequest` naming the
parameter (``input[2].call_id``). Only what translates to a chat completion is declared: message,
``function_call``, ``function_call_output`` and ``reasoning`` input items, function tools, text
formats. Other item or tool types (web search, MCP, ``item_reference``...) are a 400.

Switchyard's extension fields (``system_prompt_args``, ``session_id``, ``tensorzero::*``...)
are not declared again: every top-level field this Struct does not know is passed to the chat
request, whose decoding validates it under the same name (see app/inference/responses_wire.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from app.errors import InvalidRequest
from app.wire.request import PositiveInt, Temperature, UnitInterval, decode_or_400

ToolName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class InputText(msgspec.Struct, tag="input_text", tag_field="type"):
    text: str


class OutputText(msgspec.Struct, tag="output_text", tag_field="type"):
    """Assistant text sent back as input (a previous turn's output item)."""

    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)


class InputImage(msgspec.Struct, tag="input_image", tag_field="type"):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] | None = None


class InputFile(msgspec.Struct, tag="input_file", tag_field="type"):
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class Refusal(msgspec.Struct, tag="refusal", tag_field="type"):
    refusal: str


ContentPart = InputText | OutputText | InputImage | InputFile | Refusal
ItemType = Literal["message", "function_call", "function_call_output", "reasoning"]


class InputItem(msgspec.Struct, kw_only=True):
    """One input item; which fields it needs depends on ``type`` (see :func:`check_semantics`).

    One flat Struct rather than a tagged union because a message may omit ``type``
    (OpenAI's "easy input message"), which a msgspec tagged union cannot express.
    """

    type: ItemType = "message"
    # message
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[ContentPart] | None = None
    # function_call / function_call_output
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | list[ContentPart] | None = None
    # any: OpenAI's item id and status, echoed back by clients; not used
    id: str | None = None
    status: str | None = None


class FunctionTool(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A function tool (``type: function``), or Switchyard's server-side tool toggle (``id``)."""

    type: Literal["function"] | None = None
    name: ToolName | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    id: str | None = None
    enabled: bool | None = None


class ToolChoiceFunction(msgspec.Struct):
    """Force one function; OpenAI's ``allowed_tools`` and built-in choices are a 400."""

    type: Literal["function"]
    name: ToolName


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceFunction


class TextFormat(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextConfig(msgspec.Struct, omit_defaults=True):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(msgspec.Struct, omit_defaults=True):
    effort: str | None = None
    summary: str | None = None


class ResponsesRequest(msgspec.Struct, kw_only=True):
    model: str = ""
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: Reasoning | None = None
    stream: bool = False
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    max_output_tokens: PositiveInt | None = None
    temperature: Temperature | None = None
    top_p: UnitInterval | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    metadata: dict[str, str] | None = None
    store: bool = True
    user: str | None = None
    # Accepted and not acted on: they only tune OpenAI's own service.
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    stream_options: dict[str, Any] | None = None


# Top-level fields translated (or deliberately ignored) here; the rest pass through to chat.
KNOWN_FIELDS = frozenset(f.encode_name for f in msgspec.structs.fields(ResponsesRequest))

_decoder = msgspec.json.Decoder(ResponsesRequest)


def decode_responses_request(body: bytes) -> ResponsesRequest:
    """Parse and type-check a Responses request body, or raise a 400 naming the parameter."""
    request = decode_or_400(_decoder, body)
    check_semantics(request)
    return request


_any_object = msgspec.json.Decoder(dict[str, Any])


def passthrough_fields(body: bytes) -> dict[str, Any]:
    """The top-level fields that are not the Responses API's: Switchyard's and chat's own."""
    raw = decode_or_400(_any_object, body)  # deep nesting in an unknown field is a 400 too
    return {k: v for k, v in raw.items() if k not in KNOWN_FIELDS}


def check_semantics(request: ResponsesRequest) -> None:
    """Rules a type cannot express."""
    if request.conversation is not None:
        raise InvalidRequest(
            "Switchyard keeps no conversations: send the history in 'input' "
            "or chain turns with 'previous_response_id'",
            param="conversation",
        )
    if isinstance(request.input, list):
        for i, item in enumerate(request.input):
            _check_item(item, f"input[{i}]")
    for i, tool in enumerate(request.tools or ()):
        is_function = tool.type == "function" and tool.name is not None
        is_toggle = tool.id is not None and tool.type is None and tool.name is None
        if not (is_function or is_toggle):
            raise InvalidRequest(
                "Each tool must be {'type': 'function', 'name': ...} or {'id': ..., 'enabled': bool}",
                param=f"tools[{i}]",
            )
    fmt = request.text.format if request.text else None
    if fmt is not None and fmt.type == "json_schema":
        for name in ("name", "schema"):
            if getattr(fmt, name) is None:
                raise InvalidRequest(
                    f"text.format of type 'json_schema' needs '{name}'",
                    param=f"text.format.{name}",
                )


_REQUIRED = {
    "message": ("role", "content"),
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id", "output"),
    "reasoning": (),
}


def _check_item(item: InputItem, where: str) -> None:
    for name in _REQUIRED[item.type]:
        if getattr(item, name) is None:
            raise InvalidRequest(
                f"An input item of type '{item.type}' needs '{name}'", param=f"{where}.{name}"
            )
