"""Dataset exports (docs/evaluations.md, "Export"): every datapoint as JSON Lines, or as
OpenAI's chat fine-tuning format (one ``{"messages": [...]}`` per line, the system prompt first,
the answer to learn last).

The fine-tuning answer is the reference when there is one, else the logged output; a datapoint
with neither is left out (and counted). The system prompt is the one the output was produced
under; with ``variant`` given, or for a datapoint added by hand, it is rendered from that
variant's template (the function's default variant when none is given) with the datapoint's
``system_prompt_args``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from app.config.functions import CompiledFunction, CompiledVariant
from app.errors import InvalidRequest
from app.prompts.templates import TemplateProblem
from app.wire.datasets import Datapoint

_encoder = msgspec.json.Encoder()
FORMATS = ("jsonl", "openai-sft")


@dataclass(frozen=True, slots=True)
class Export:
    body: bytes
    filename: str
    skipped: int  # datapoints left out of a fine-tuning file: no answer to learn


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidRequest(
            f"'format' must be one of {', '.join(FORMATS)}, got {fmt!r}", param="format"
        )


def export(
    name: str,
    points: Iterable[Datapoint],
    fmt: str,
    function: Callable[[], CompiledFunction],
    variant: str | None,
) -> Export:
    """The dataset ``name`` in ``fmt`` (checked by :func:`check_format`); ``function`` is
    asked for only to render SFT prompts."""
    filename = f"{name}.{fmt}.jsonl"
    if fmt == "jsonl":
        return Export(jsonl(points), filename, 0)
    body, skipped = openai_sft(points, function(), variant)
    return Export(body, filename, skipped)


def jsonl(points: Iterable[Datapoint]) -> bytes:
    return b"".join(_encoder.encode(point) + b"\n" for point in points)


def openai_sft(
    points: Iterable[Datapoint], function: CompiledFunction, variant: str | None
) -> tuple[bytes, int]:
    """The fine-tuning file and how many datapoints had no answer to learn."""
    chosen = _variant(function, variant)
    lines, skipped = [], 0
    for point in points:
        example = sft_example(point, chosen if variant is not None else None, chosen)
        if example is None:
            skipped += 1
        else:
            lines.append(_encoder.encode(example) + b"\n")
    return b"".join(lines), skipped


def sft_example(
    point: Datapoint, forced: CompiledVariant | None, fallback: CompiledVariant | None
) -> dict[str, Any] | None:
    answer = _answer(point)
    if answer is None:
        return None
    system = point.system_prompt
    template_variant = forced or (None if system else fallback)
    if template_variant is not None and template_variant.template is not None:
        try:
            system = template_variant.template.render(point.system_prompt_args or {})
        except TemplateProblem as exc:
            raise InvalidRequest(
                f"datapoint {point.id}: variant '{template_variant.name}' cannot render its "
                f"system prompt: {exc}",
                param="variant",
            ) from None
    messages: list[Any] = [{"role": "system", "content": system}] if system else []
    messages.extend(
        msgspec.to_builtins(m) for m in point.input_messages if not (system and m.role == "system")
    )
    messages.append(answer)
    example: dict[str, Any] = {"messages": messages}
    if point.tools:
        example["tools"] = point.tools
    return example


def _answer(point: Datapoint) -> dict[str, Any] | None:
    reference = point.reference_output
    if isinstance(reference, str):
        return {"role": "assistant", "content": reference}
    if reference is not None:
        return {"role": "assistant", "content": None, "tool_calls": msgspec.to_builtins(reference)}
    if point.output is None:
        return None
    message = {k: v for k, v in point.output.items() if k in ("content", "tool_calls")}
    return {"role": "assistant", **message}


def _variant(function: CompiledFunction, name: str | None) -> CompiledVariant | None:
    if name is not None:
        found = function.variants.get(name)
        if found is None:
            known = ", ".join(sorted(function.variants))
            raise InvalidRequest(
                f"function '{function.name}' has no variant '{name}' (it has {known})",
                param="variant",
            )
        return found
    default = function.config.default_variant
    if default and default in function.variants:
        return function.variants[default]
    return next(iter(function.variants.values()), None)
