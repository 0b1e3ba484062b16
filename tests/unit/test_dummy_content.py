"""The dummy's pure content helpers: schema-valid objects, json_object answers, embeddings."""

from __future__ import annotations

import math
from typing import Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.providers.dummy_content import (
    dummy_embedding,
    json_object_answer,
    schema_answer,
    schema_instance,
    tool_results_answer,
)
from app.wire.request import FunctionCall, Message, TextPart, ToolCall

PERSON: dict[str, Any] = {
    "title": "Person",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string", "minLength": 5}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "role": {"enum": ["admin", "user"]},
    },
    "required": ["name", "age", "email", "tags", "address", "role"],
    "additionalProperties": False,
}

SCHEMAS: list[Any] = [
    {"type": "object"},
    {"type": "string"},
    {"type": "number"},
    {"type": "integer"},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array"},
    {"type": ["string", "null"]},
    {"type": ["null", "integer"]},
    {"enum": ["red", "green"]},
    {"const": 42},
    {"type": "string", "minLength": 20},
    {"type": "string", "maxLength": 3},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email"},
    {"type": "integer", "minimum": 5},
    {"type": "integer", "maximum": -3},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3},
    {"type": "integer", "minimum": 7, "multipleOf": 5},
    {"type": "number", "minimum": 0.5, "maximum": 0.6},
    {"type": "number", "exclusiveMinimum": 1},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
    {"type": "array", "items": {"type": "string"}, "maxItems": 0},
    {"type": "array", "items": {"enum": [1, 2]}, "uniqueItems": True},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
    {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    {"oneOf": [{"type": "integer", "minimum": 3}, {"type": "string"}]},
    {
        "allOf": [
            {"properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}},
        ]
    },
    PERSON,
    {
        # pydantic's shape for a model with a nested model and a recursive list
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["value", "children"],
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "required": ["root"],
    },
    {
        "definitions": {"Color": {"enum": ["r", "g"]}},
        "properties": {"c": {"$ref": "#/definitions/Color"}},
        "required": ["c"],
    },
    {"type": "object", "required": ["undeclared"]},
    True,
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_instance_is_valid(schema: Any) -> None:
    instance = schema_instance(schema)
    validator = jsonschema_rs.validator_for(schema)
    errors = [e.message for e in validator.iter_errors(instance)]
    assert not errors, (instance, errors)


def test_every_property_is_filled() -> None:
    value = schema_instance(PERSON)
    assert set(value) == {"name", "age", "email", "tags", "address", "role"}
    assert value["email"] == "user@example.com" and value["role"] == "admin"


def test_answers_are_json_text() -> None:
    assert msgspec.json.decode(json_object_answer("hi")) == {"answer": "hi"}
    assert msgspec.json.decode(schema_answer({"properties": {"ok": {"type": "boolean"}}})) == {
        "ok": True
    }


def test_embedding_is_deterministic_unit_and_sized() -> None:
    a = dummy_embedding("hello", 256)
    assert a == dummy_embedding("hello", 256)
    assert len(a) == 256 and math.isclose(math.fsum(v * v for v in a), 1.0, rel_tol=1e-9)
    assert a != dummy_embedding("hello!", 256)
    assert dummy_embedding([1, 2, 3], 8) != dummy_embedding("[1, 2, 3]", 8)
    assert dummy_embedding("x", 1) in ([1.0], [-1.0])
    with pytest.raises(ValueError):
        dummy_embedding("x", 0)


def test_embedding_is_stable_across_versions() -> None:
    # blake2b is specified: these values must not change, or stored demo vectors go stale.
    got = dummy_embedding("switchyard", 4)
    assert got == pytest.approx([0.040828, 0.464342, 0.319209, 0.825121], abs=1e-6)


@given(st.text(), st.integers(1, 64))
def test_embedding_properties(text: str, dimensions: int) -> None:
    vector = dummy_embedding(text, dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-9)


@st.composite
def numeric_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": draw(st.sampled_from(["integer", "number"]))}
    low = draw(st.none() | st.integers(-50, 50))
    if low is not None:
        schema[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        high = (low if low is not None else 0) + draw(st.integers(2, 40))
        schema[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = high
    return schema


leaf_schemas = (
    numeric_schemas()
    | st.builds(
        lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
        st.integers(0, 30),
        st.integers(0, 5),
    )
    | st.sampled_from(
        [{"type": "boolean"}, {"type": "null"}, {"enum": ["a", 1, None]}, {"const": [1]}]
    )
)
schemas = st.recursive(
    leaf_schemas,
    lambda inner: (
        st.builds(
            lambda props, req: {
                "type": "object",
                "properties": props,
                "required": [k for k in props if req],
            },
            st.dictionaries(st.text("abc", min_size=1, max_size=3), inner, max_size=3),
            st.booleans(),
        )
        | st.builds(
            lambda items, lo: {"type": "array", "items": items, "minItems": lo},
            inner,
            st.integers(0, 3),
        )
        | st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner)
        | st.builds(
            lambda a: (
                {"type": [a["type"], "null"]}
                if isinstance(a.get("type"), str) and a["type"] != "null"
                else a
            ),
            inner,
        )
    ),
    max_leaves=10,
)


@given(schemas)
def test_generated_schemas_get_valid_instances(schema: dict[str, Any]) -> None:
    instance = schema_instance(schema)
    assert jsonschema_rs.validator_for(schema).is_valid(instance), (schema, instance)


def test_tool_results_end_the_tool_loop() -> None:
    call = ToolCall("c1", FunctionCall("lookup_order", "{}"))
    asked = [Message(role="user", content="Where is my order?")]
    assert tool_results_answer(asked) is None
    answered = [
        *asked,
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="c1", content="shipped"),
        Message(role="tool", tool_call_id="c2", content=[TextPart("due Monday")]),
    ]
    assert tool_results_answer(answered) == "Tool results: shipped; due Monday"
    assert tool_results_answer([*answered, Message(role="user", content="thanks")]) is None
