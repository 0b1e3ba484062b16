"""What the ``dummy`` provider answers with, as pure functions: no I/O, no randomness.

- :func:`schema_instance`: an object valid against a JSON Schema, for ``response_format``
  ``json_schema`` (so structured-output clients such as instructor get something they can
  parse). It covers the subset structured outputs use: ``type`` (one or a list), ``enum``,
  ``const``, ``properties``/``required``, ``items``/``prefixItems``, ``anyOf``/``oneOf``/
  ``allOf`` (the first branch), local ``$ref`` (``#/$defs/...``, ``#/definitions/...``) and
  the length, count and range bounds (not ``pattern``); every property is filled, not only
  the required ones.
- :func:`json_object_answer`: the answer for ``json_object``.
- :func:`tool_results_answer`: the text answer once tools have answered, so the ``tool_call``
  dummy ends an agent's tool loop instead of calling the tool forever.
- :func:`dummy_embedding`: a unit vector derived from blake2b of the input, so equal inputs
  embed equally across processes and versions (no seeded PRNG whose algorithm could change).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import msgspec

from app.providers.tokens import message_text
from app.wire.request import Message

_MAX_DEPTH = 8  # a recursive $ref stops here with the smallest valid value


def json_object_answer(prompt: str) -> str:
    """A JSON object answering ``prompt`` (``response_format: json_object``)."""
    return msgspec.json.encode({"answer": prompt}).decode()


def tool_results_answer(messages: Sequence[Message]) -> str | None:
    """A text answer quoting the tool results that end ``messages``; None when the last
    message is not a tool result (the dummy should call its tool then)."""
    results: list[str] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.append(message_text(message))
    if not results:
        return None
    return "Tool results: " + "; ".join(reversed(results))


def schema_answer(schema: dict[str, Any]) -> str:
    """A JSON text valid against ``schema`` (``response_format: json_schema``)."""
    return msgspec.json.encode(schema_instance(schema)).decode()


def schema_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value valid against ``schema``; ``root`` resolves ``$ref`` (defaults to ``schema``)."""
    root = schema if root is None else root
    if schema is True or not isinstance(schema, dict):
        return {}
    if "$ref" in schema:
        return schema_instance(_resolve(root, schema["$ref"]), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branch = {**{k: v for k, v in schema.items() if k != key}, **schema[key][0]}
            return schema_instance(branch, root, depth + 1)
    if schema.get("allOf"):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = _merge(merged, part)
        return schema_instance(merged, root, depth + 1)
    kind = _type_of(schema)
    return _VALUE_OF[kind](schema, root, depth)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        # Prefer a concrete type over null; the list's order otherwise.
        kind = next((k for k in kind if k != "null"), kind[0] if kind else "object")
    if kind is None:
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return "object"
    return str(kind)


def _object(schema: dict[str, Any], root: Any, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    names = list(properties) if depth < _MAX_DEPTH else [n for n in required if n in properties]
    value = {name: schema_instance(properties[name], root, depth + 1) for name in names}
    for name in required:  # required but undeclared: any value satisfies an absent schema
        value.setdefault(name, schema_instance(schema.get("additionalProperties"), root, depth + 1))
    return value


def _array(schema: dict[str, Any], root: Any, depth: int) -> list[Any]:
    prefix = [schema_instance(s, root, depth + 1) for s in schema.get("prefixItems") or ()]
    count = max(int(schema.get("minItems", 1 if depth < _MAX_DEPTH else 0)), len(prefix))
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]))
    items = schema.get("items", {})
    rest = []
    if items is not False and count > len(prefix):
        one = schema_instance(items, root, depth + 1)
        rest = [one] * (count - len(prefix))
        if schema.get("uniqueItems") and len(rest) > 1:
            rest = rest[:1]  # an honest instance: one item rather than duplicates
    return [*prefix, *rest][: max(count, len(prefix))]


def _string(schema: dict[str, Any], root: Any, depth: int) -> str:
    formats = {
        "date-time": "2024-01-01T00:00:00Z",
        "date": "2024-01-01",
        "time": "00:00:00Z",
        "email": "user@example.com",
        "uri": "https://example.com",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    text = formats.get(schema.get("format", ""), "string")
    minimum = int(schema.get("minLength", 0))
    maximum = int(schema.get("maxLength", max(minimum, len(text))))
    if len(text) < minimum:
        text += "x" * (minimum - len(text))
    return text[:maximum]


def _number(schema: dict[str, Any], root: Any, depth: int) -> float | int:
    integer = _type_of(schema) == "integer"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 0
    if low is not None and high is not None:
        value = (low + high) / 2
    elif low is not None:
        value = low + 1
    elif high is not None:
        value = high - 1
    if integer:
        value = _integer_within(value, low, high, schema)
    step = schema.get("multipleOf")
    if step and not integer:
        value = (
            math.ceil(value / step) * step if low is not None else math.floor(value / step) * step
        )
    return int(value) if integer else value


def _integer_within(value: float, low: Any, high: Any, schema: dict[str, Any]) -> int:
    step = int(schema.get("multipleOf") or 1)
    candidate = math.floor(value / step) * step
    if low is not None and (candidate < low or ("exclusiveMinimum" in schema and candidate <= low)):
        candidate += step
    return candidate


_VALUE_OF: dict[str, Any] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _number,
    "boolean": lambda schema, root, depth: True,
    "null": lambda schema, root, depth: None,
}


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}  # remote refs are not fetched: any value
    node = root
    for token in filter(None, ref[1:].split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node.get(token, {}) if isinstance(node, dict) else {}
    return node


def _merge(left: dict[str, Any], right: Any) -> dict[str, Any]:
    if not isinstance(right, dict):
        return left
    merged = {**left, **right}
    if "properties" in left and "properties" in right:
        merged["properties"] = {**left["properties"], **right["properties"]}
    if "required" in left and "required" in right:
        merged["required"] = [*left["required"], *right["required"]]
    return merged


# -- embeddings ------------------------------------------------------------------------------


def dummy_embedding(item: str | Sequence[int], dimensions: int) -> list[float]:
    """A deterministic unit vector of ``dimensions`` floats for a text or a token array."""
    if dimensions < 1:
        raise ValueError("dimensions must be at least 1")
    if isinstance(item, str):
        data = b"t" + item.encode()
    else:
        data = b"i" + b"".join(x.to_bytes(8, "little", signed=True) for x in item)
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.blake2b(data, digest_size=64, salt=block.to_bytes(16, "little")).digest()
        for i in range(0, 64, 4):
            # Centred in [-1, 1): uniform per coordinate, so directions spread over the sphere.
            values.append(int.from_bytes(digest[i : i + 4], "little") / 2**31 - 1.0)
        block += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values))
    if norm == 0.0:  # all coordinates exactly 0: a 2^-32-per-coordinate event
        return [1.0] + [0.0] * (dimensions - 1)
    return [v / norm for v in values]
