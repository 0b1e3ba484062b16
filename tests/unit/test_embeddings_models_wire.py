"""/v1/embeddings and /v1/models wire shapes, checked against the openai SDK's types."""

from __future__ import annotations

import base64
import struct
from typing import Any

import msgspec
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types import Model as SdkModel

from app.errors import InvalidRequest
from app.wire.embeddings import (
    decode_embeddings_request,
    embeddings_response,
    encode_vector,
    inputs,
)
from app.wire.models import model_list
from app.wire.response import encoder


def decode(body: dict[str, Any]) -> Any:
    return decode_embeddings_request(msgspec.json.encode(body))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("hello", ["hello"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1, 2], [3]], [[1, 2], [3]]),
    ],
)
def test_the_four_input_forms(given: Any, expected: list[Any]) -> None:
    request = decode({"model": "emb", "input": given})
    assert inputs(request) == expected
    assert request.encoding_format == "float" and request.dimensions is None


def test_options() -> None:
    request = decode(
        {
            "model": "e",
            "input": "x",
            "encoding_format": "base64",
            "dimensions": 64,
            "user": "u",
            "labels": {"a": "b"},
        }
    )
    assert (request.encoding_format, request.dimensions, request.user, request.labels) == (
        "base64",
        64,
        "u",
        {"a": "b"},
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "e"}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e", "input": ""}, "input"),
        ({"model": "e", "input": ["a", ""]}, "input[1]"),
        ({"model": "e", "input": ["a", 1]}, "input[1]"),
        ({"model": "e", "input": [[1], []]}, "input[1]"),
        ({"model": "e", "input": [-1]}, "input[0]"),
        ({"model": "e", "input": [{"a": 1}]}, "input[0]"),
        ({"model": "e", "input": ["x"] * 2049}, "input"),
        ({"model": "e", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
    ],
)
def test_bad_requests_name_the_parameter(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode(body)
    assert info.value.param == param, info.value.message


def test_response_shape_and_base64() -> None:
    vectors = [[0.6, 0.8], [1.0, 0.0]]
    plain = embeddings_response("emb", vectors, "float", prompt_tokens=7)
    sdk = CreateEmbeddingResponse.model_validate(msgspec.json.decode(encoder.encode(plain)))
    assert [d.embedding for d in sdk.data] == vectors and [d.index for d in sdk.data] == [0, 1]
    assert (sdk.usage.prompt_tokens, sdk.usage.total_tokens, sdk.model) == (7, 7, "emb")
    packed = encode_vector([0.6, 0.8], "base64")
    assert isinstance(packed, str)
    # What the openai SDK does with a base64 embedding: little-endian float32.
    assert struct.unpack("<2f", base64.b64decode(packed)) == pytest.approx((0.6, 0.8))


def test_model_list() -> None:
    listing = model_list(["support-bot", "json"], ["gpt-4o", "json"], ["emb"], created=1700000000)
    body = msgspec.json.decode(encoder.encode(listing))
    assert body["object"] == "list"
    assert [(m["id"], m["kind"]) for m in body["data"]] == [
        ("emb", "embedding_model"),
        ("gpt-4o", "model"),
        ("json", "function"),
        ("support-bot", "function"),
    ]
    for entry in body["data"]:
        model = SdkModel.model_validate(entry)
        assert (
            model.object == "model"
            and model.owned_by == "switchyard"
            and model.created == 1700000000
        )
    assert model_list([], []).data == []
