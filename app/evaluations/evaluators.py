"""How each evaluator type grades one output (docs/evaluations.md, "Evaluators"): pure
functions of the compiled evaluator, the output text and the reference, so every score is known
exactly from its inputs. A grade is a float (booleans are 1.0 and 0.0) or, when it cannot be
given, None with the reason.

Outputs and references are compared as text: an assistant's content, or, for tool calls, the
canonical JSON of ``[{"name", "arguments"}]`` (arguments parsed when they are JSON), so a
tool-call reference matches a tool-call answer regardless of call ids and key order.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from app.config.evaluations import CompiledEvaluator
from app.config.schema import (
    ContainsEvaluator,
    ExactMatchEvaluator,
    JsonSchemaEvaluator,
    LlmJudgeEvaluator,
    RegexEvaluator,
)
from app.wire.response import AssistantMessage, ToolCall

Grade = tuple[float | None, str]  # (score, why there is none)
NO_REFERENCE: Grade = (None, "the datapoint has no reference output")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TRUE = ("true", "yes", "pass", "correct", "1")
_FALSE = ("false", "no", "fail", "incorrect", "wrong", "0")


def message_text(message: AssistantMessage) -> str:
    if message.tool_calls:
        return tool_calls_text(message.tool_calls)
    return message.content or ""


def reference_text(reference: str | list[ToolCall] | None) -> str | None:
    if reference is None or isinstance(reference, str):
        return reference
    return tool_calls_text(reference)


def tool_calls_text(calls: list[ToolCall]) -> str:
    canonical = [{"name": c.function.name, "arguments": _arguments(c)} for c in calls]
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))


def _arguments(call: ToolCall) -> Any:
    try:
        return json.loads(call.function.arguments)
    except ValueError:
        return call.function.arguments


def grade(evaluator: CompiledEvaluator, output: str, reference: str | None) -> Grade:
    """The grade of a deterministic evaluator (every type but ``llm_judge``)."""
    config = evaluator.config
    if isinstance(config, ExactMatchEvaluator):
        if reference is None:
            return NO_REFERENCE
        same = _fold(output.strip(), config.case_sensitive) == _fold(
            reference.strip(), config.case_sensitive
        )
        return float(same), ""
    if isinstance(config, ContainsEvaluator):
        needle = config.value if config.value is not None else reference
        if needle is None:
            return NO_REFERENCE
        return float(
            _fold(needle, config.case_sensitive) in _fold(output, config.case_sensitive)
        ), ""
    if isinstance(config, RegexEvaluator):
        assert evaluator.pattern is not None
        return float(evaluator.pattern.search(output) is not None), ""
    if isinstance(config, JsonSchemaEvaluator):
        return float(_valid_json(evaluator, output)), ""
    raise TypeError(f"{evaluator.type} is graded by a judge, not here")


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _valid_json(evaluator: CompiledEvaluator, output: str) -> bool:
    try:
        document = msgspec.json.decode(output)
    except msgspec.DecodeError:
        return False
    return bool(evaluator.validator.is_valid(document))


def judge_prompt(
    evaluator: CompiledEvaluator,
    messages: list[Any],
    output: str,
    reference: str | None,
    args: dict[str, Any] | None,
) -> str:
    assert evaluator.template is not None
    return evaluator.template.render(
        {
            "input": messages,
            "output": output,
            "reference": reference,
            "system_prompt_args": args or {},
        }
    )


def judge_grade(config: LlmJudgeEvaluator, answer: str) -> Grade:
    """The judge's answer as a grade: its first word for a boolean, its first number (which must
    lie from ``min`` to ``max``) for a float."""
    text = answer.strip()
    if config.output == "boolean":
        word = re.split(r"[^A-Za-z0-9]+", text.lower(), maxsplit=1)[0] if text else ""
        if word in _TRUE:
            return 1.0, ""
        if word in _FALSE:
            return 0.0, ""
        return None, f"the judge did not answer true or false: {text[:200]!r}"
    number = _NUMBER.search(text)
    if number is None:
        return None, f"the judge gave no number: {text[:200]!r}"
    value = float(number.group())
    if not config.min <= value <= config.max:
        return None, f"the judge's {value:g} is outside {config.min:g}..{config.max:g}"
    return value, ""
