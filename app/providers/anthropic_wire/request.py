"""OpenAI chat request → Anthropic Messages request body: pure, no I/O.

System/developer messages become ``system``; consecutive turns of one role are merged (Anthropic
wants user/assistant alternation), tool results are ``tool_result`` blocks of a user turn,
assistant ``tool_calls`` are ``tool_use`` blocks; images and files become ``image``/``document``
blocks. ``reasoning_effort`` becomes a thinking budget, fitted to the limits Anthropic enforces
(:func:`_fit_thinking`). What cannot be said in Anthropic's terms raises ``TranslationError``,
which the provider answers as a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.providers.wire_format import TranslationError
from app.wire.request import AudioPart, FilePart, ImagePart, Message, RefusalPart, TextPart

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
