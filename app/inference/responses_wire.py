"""Responses API ⇄ chat completions: pure translation, no I/O (like app/providers/anthropic_wire/).

A Responses request becomes the chat request the pipeline already serves, so resolution,
variants, templates, campaigns, logging and cost apply unchanged; the chat completion comes
back as a ``response`` object (streams: app/inference/responses_stream.py). Mapping:

- ``instructions`` → a leading system message; ``input`` string → one user message;
  message items → messages (``input_text``/``output_text`` → text parts, ``input_image`` →
  ``image_url``, ``input_file`` → ``file``; an assistant's ``refusal`` parts → its
  ``refusal`` field, which openai providers get and Anthropic drops); ``function_call``
  items → ``tool_calls`` of the assistant message before them;
  ``function_call_output`` → a ``tool`` message; ``reasoning`` items are dropped.
- ``max_output_tokens`` → ``max_completion_tokens``; ``text.format`` → ``response_format``;
  ``reasoning.effort`` → ``reasoning_effort``; ``top_logprobs`` → ``logprobs`` + ``top_logprobs``.
- ``previous_response_id``: the caller passes the earlier turn's messages as ``history`` (read
  from the inference log); without it the request is refused, naming the parameter.
- Every top-level field the Responses API does not define (``system_prompt_args``,
  ``session_id``, ``tensorzero::*``, vLLM's ``top_k``...) passes to the chat body untouched,
  so the chat decoder validates it under its own name: one definition of each extension field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from app.errors import InvalidRequest
from app.wire.request import ChatRequest, Message, decode_chat_request
from app.wire.responses import (
    ContentPart,
    FunctionTool,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    OutputText,
    Refusal,
    ResponsesRequest,
    TextFormat,
    passthrough_fields,
)

_json = msgspec.json.Encoder()


def to_chat_request(
    request: ResponsesRequest, body: bytes, *, history: Sequence[Message] | None = None
) -> tuple[ChatRequest, bytes]:
    """The chat request to plan, and its JSON body (what ``InferenceService.plan`` takes).

    ``body`` is the Responses request body as received (for the passthrough fields);
    ``history`` the messages of the turn ``previous_response_id`` names.
    """
    chat = chat_body(request, passthrough_fields(body), history=history)
    encoded = _json.encode(chat)
    return decode_chat_request(encoded), encoded


def chat_body(
    request: ResponsesRequest,
    passthrough: dict[str, Any],
    *,
    history: Sequence[Message] | None = None,
) -> dict[str, Any]:
    """The chat completions request body equivalent to a Responses request."""
    body: dict[str, Any] = dict(passthrough)
    body.pop("n", None)  # a response holds one answer
    body["model"] = request.model
    body["messages"] = _messages(request, history)
    body["stream"] = request.stream
    if request.stream:
        body["stream_options"] = {"include_usage": True}  # response.completed carries usage
    body["store"] = request.store
    optional = {
        "max_completion_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "metadata": request.metadata,
        "user": request.user,
        "parallel_tool_calls": request.parallel_tool_calls,
        "tool_choice": _tool_choice(request),
        "response_format": _response_format(request.text.format if request.text else None),
        "reasoning_effort": request.reasoning.effort if request.reasoning else None,
    }
    body.update((k, v) for k, v in optional.items() if v is not None)
    if request.top_logprobs is not None:
        body["logprobs"] = True
        body["top_logprobs"] = request.top_logprobs
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    return body


def _messages(request: ResponsesRequest, history: Sequence[Message] | None) -> list[Any]:
    messages: list[Any] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    if request.previous_response_id is not None:
        if history is None:
            raise InvalidRequest(
                f"No stored response '{request.previous_response_id}' to continue from",
                param="previous_response_id",
            )
        # An earlier turn's instructions are not carried over (OpenAI's rule).
        messages.extend(m for m in history if m.role not in ("system", "developer"))
    if isinstance(request.input, str):
        messages.append({"role": "user", "content": request.input})
    else:
        for i, item in enumerate(request.input or ()):
            _add_item(messages, item, f"input[{i}]")
    if not messages:
        raise InvalidRequest("'input' must hold at least one message", param="input")
    return messages


def _add_item(messages: list[Any], item: InputItem, where: str) -> None:
    if item.type == "message":
        content = _content(item.content, where)
        if item.role != "assistant":
            messages.append({"role": item.role, "content": content})
        else:
            refusal = _refusal_of(item.content)
            message: dict[str, Any] = {"role": "assistant", "content": _text_of(content) or None}
            if refusal:
                message["refusal"] = refusal  # sent to openai providers, dropped for Anthropic
            if content or refusal:
                messages.append(message)
    elif item.type == "function_call":
        call = {
            "id": item.call_id,
            "type": "function",
            "function": {"name": item.name, "arguments": item.arguments},
        }
        last = messages[-1] if messages else None
        if isinstance(last, dict) and last.get("role") == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif item.type == "function_call_output":
        output = item.output
        content = output if isinstance(output, str) else _content(output, f"{where}.output")
        messages.append({"role": "tool", "tool_call_id": item.call_id, "content": content})


def _content(content: str | list[ContentPart] | None, where: str) -> str | list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for j, part in enumerate(content):
        if isinstance(part, InputText | OutputText):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, InputImage):
            parts.append(_image(part, f"{where}.content[{j}]"))
        elif isinstance(part, InputFile):
            parts.append(_file(part, f"{where}.content[{j}]"))
    return parts


def _text_of(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


def _refusal_of(content: str | list[ContentPart] | None) -> str:
    if not isinstance(content, list):
        return ""
    return "".join(part.refusal for part in content if isinstance(part, Refusal))


def _image(part: InputImage, where: str) -> dict[str, Any]:
    if part.image_url is None:
        raise InvalidRequest(
            "Images must be sent as image_url (an https: or data: URL); "
            "file_id needs OpenAI's file store",
            param=f"{where}.image_url",
        )
    image: dict[str, Any] = {"url": part.image_url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _file(part: InputFile, where: str) -> dict[str, Any]:
    if part.file_data is None and part.file_id is None:
        raise InvalidRequest(
            "Files must be sent inline as file_data (or as a file_id the provider knows)",
            param=f"{where}.file_data",
        )
    fields = {"file_data": part.file_data, "file_id": part.file_id, "filename": part.filename}
    return {"type": "file", "file": {k: v for k, v in fields.items() if v is not None}}


def _tool(tool: FunctionTool) -> dict[str, Any]:
    if tool.id is not None and tool.name is None:
        toggle: dict[str, Any] = {"id": tool.id}
        if tool.enabled is not None:
            toggle["enabled"] = tool.enabled
        return toggle
    fields = {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": tool.strict,
    }
    function = {k: v for k, v in fields.items() if v is not None}
    return {"type": "function", "function": function}


def _tool_choice(request: ResponsesRequest) -> str | dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    return {"type": "function", "function": {"name": choice.name}}


def _response_format(fmt: TextFormat | None) -> dict[str, Any] | None:
    if fmt is None:
        return None
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec = {
        "name": fmt.name,
        "schema": fmt.schema,
        "description": fmt.description,
        "strict": fmt.strict,
    }
    return {"type": "json_schema", "json_schema": {k: v for k, v in spec.items() if v is not None}}
