"""``/schema/openapi.json`` describes every request body, from the Structs that decode them."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from app.api.admin import KeyCreate
from app.feedback.schema import FeedbackRequest
from app.wire.request import ChatRequest
from tests.support.gateway import Gateway

NO_BODY = {
    ("post", "/admin/config/rollback/{version}"),
    ("post", "/admin/evaluations/runs/{run_id}/resume"),  # the run is all it needs
}


def _document(gateway: Gateway) -> dict[str, Any]:
    response = httpx.get(gateway.url + "/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"][path][method]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_every_write_operation_has_a_body(gateway: Gateway) -> None:
    document = _document(gateway)
    for path, item in document["paths"].items():
        for method in ("post", "put", "patch"):
            if method in item and (method, path) not in NO_BODY:
                assert "requestBody" in item[method], f"{method.upper()} {path} has no body"


def test_bodies_are_the_decoding_structs_with_their_limits(gateway: Gateway) -> None:
    document = _document(gateway)
    components = document["components"]["schemas"]
    _, expected = msgspec.json.schema_components(
        [ChatRequest, FeedbackRequest, KeyCreate], ref_template="#/components/schemas/{name}"
    )
    for name in ("ChatRequest", "FeedbackRequest", "KeyCreate", "Message"):
        assert components[name]["properties"].keys() == expected[name]["properties"].keys()
    refs = {
        ("/v1/chat/completions", "post"): "ChatRequest",
        ("/v1/feedback", "post"): "FeedbackRequest",
        ("/admin/keys", "post"): "KeyCreate",
        ("/admin/sql", "post"): "SqlRequest",
    }
    for (path, method), name in refs.items():
        assert _body_schema(document, path, method) == {"$ref": f"#/components/schemas/{name}"}
    chat = components["ChatRequest"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 128} in chat["n"]["anyOf"]
    labels = chat["labels"]["anyOf"][0]
    assert labels["maxProperties"] == 64
    assert labels["propertyNames"] == {"maxLength": 128}
    assert labels["additionalProperties"]["maxLength"] == 2048
    assert chat["tags"]["anyOf"][0]["maxItems"] == 64
    assert chat["tensorzero::tags"]["anyOf"][0]["maxProperties"] == 64
    assert components["FeedbackRequest"]["properties"]["tags"]["anyOf"][0]["maxProperties"] == 64
    assert components["ChatRequest"]["required"] == ["messages"]
    assert _body_schema(document, "/admin/config", "put")["type"] == "object"


def test_the_console_is_not_in_the_document(gateway: Gateway) -> None:
    assert not [path for path in _document(gateway)["paths"] if path.startswith("/ui")]
