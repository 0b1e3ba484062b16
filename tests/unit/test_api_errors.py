"""Litestar's own failures (typed body or parameter, bad JSON, 404, 405, 413) leave in OpenAI's
error shape, naming the parameter, from the one set of handlers in app/api/errors.py; so does a
bug, as a 500 that says it was logged, on Litestar's routes and on the chat endpoint's own
last resort (app/api/chat.py), which serves without Litestar."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar, get, post
from litestar.testing import TestClient

from app.api.admin import KeyCreate
from app.api.chat import handle_chat
from app.api.errors import EXCEPTION_HANDLERS
from app.api.exchange import Headers, Relay
from app.feedback.schema import FeedbackRequest


@post("/feedback", status_code=200)
async def take_feedback(data: FeedbackRequest) -> dict[str, str]:
    return {"metric": data.metric_name}


@post("/keys", status_code=200)
async def take_key(data: KeyCreate) -> dict[str, str]:
    return {"name": data.name}


@post("/document", status_code=200)
async def take_document(data: dict[str, Any]) -> dict[str, Any]:
    return data


@get("/items")
async def list_items(limit: int = 10) -> dict[str, int]:
    return {"limit": limit}


@get("/broken")
async def broken() -> None:
    raise RuntimeError("a bug")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        [take_feedback, take_key, take_document, list_items, broken],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=1024,
    )
    with TestClient(app) as test_client:
        yield test_client


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/feedback", {"value": 1}, "metric_name"),  # a missing field is named
        ("/feedback", {"metric_name": "m", "inference_id": "nope"}, "inference_id"),
        ("/feedback", {"metric_name": "m", "tags": {"a": 1}}, "tags"),  # dict keys hidden
        ("/feedback", {"metric_name": 5}, "metric_name"),
        ("/keys", {"name": "k", "rpm_limit": [1]}, "rpm_limit"),
        ("/keys", {"name": "k", "extra": 1}, None),  # unknown field: msgspec names no path
        ("/document", [1, 2], None),  # the body as a whole
    ],
)
def test_a_body_that_fails_its_type_is_a_400_naming_the_param(
    client: TestClient[Litestar], path: str, body: Any, param: str | None
) -> None:
    detail = error(client.post(path, json=body), 400)
    assert detail["type"] == "invalid_request_error"
    assert detail["param"] == param
    assert "$.data" not in detail["message"] and "`data`" not in detail["message"]


@pytest.mark.parametrize("raw", [b"{oops", b"", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_a_400(client: TestClient[Litestar], raw: bytes) -> None:
    detail = error(client.post("/feedback", content=raw), 400)
    assert detail["type"] == "invalid_request_error" and detail["param"] is None


def test_a_query_parameter_of_the_wrong_type_is_named(client: TestClient[Litestar]) -> None:
    assert error(client.get("/items", params={"limit": "many"}), 400)["param"] == "limit"


def test_unknown_path_wrong_method_and_too_large(client: TestClient[Litestar]) -> None:
    assert error(client.get("/nothing"), 404)["type"] == "not_found_error"
    assert error(client.get("/feedback"), 405)["code"] == "method_not_allowed"
    large = client.post("/document", json={"x": "y" * 2048})
    assert error(large, 413)["code"] == "payload_too_large"


def test_a_valid_body_reaches_the_handler(client: TestClient[Litestar]) -> None:
    response = client.post("/feedback", json={"metric_name": "m"})
    assert response.status_code == 200 and response.json() == {"metric": "m"}


def test_a_bug_in_a_route_is_a_500_that_says_it_was_logged(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="switchyard"):
        detail = error(client.get("/broken"), 500)
    assert detail["type"] == "api_error"
    assert detail["message"] == "Internal error in the gateway; it has been logged"
    assert "a bug" not in detail["message"]  # the client never sees the internals
    assert any(r.exc_info and "GET /broken" in r.getMessage() for r in caplog.records)


class RecordingExchange:
    """The chat handler's side of one HTTP exchange, as granian's RSGI or Litestar's ASGI
    adapters give it, recording what the handler sends."""

    method = "POST"

    def __init__(self, status: int = 0) -> None:
        self.status = status
        self.sent: list[tuple[int, Headers, bytes]] = []

    def header(self, name: str) -> str | None:
        return None

    async def read_body(self, limit: int) -> bytes:
        return b"{}"

    async def respond(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.sent.append((status, headers, body))

    async def stream(self, headers: Headers, relay: Relay) -> None:
        raise AssertionError("not streamed")


class BrokenAuth:
    """Authentication that fails with a bug, not a GatewayError: the last resort's case."""

    def authenticate(self, header: str | None) -> None:
        raise KeyError("a bug in the key cache")


def broken_services() -> Any:
    return SimpleNamespace(tracing=None, auth=BrokenAuth(), inference=None)


async def test_a_bug_on_the_chat_path_is_a_500_in_openai_shape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = RecordingExchange()
    with caplog.at_level(logging.ERROR, logger="switchyard"):
        await handle_chat(exchange, broken_services(), "/v1/chat/completions", endpoint=None)
    [(status, headers, body)] = exchange.sent
    assert status == 500
    assert ("content-type", "application/json") in headers
    detail = json.loads(body)["error"]
    assert detail["type"] == "api_error"
    assert detail["message"] == "Internal error in the gateway; it has been logged"
    assert "key cache" not in body.decode()
    [logged] = [r for r in caplog.records if r.exc_info]
    assert "POST /v1/chat/completions" in logged.getMessage()
    assert logged.exc_info is not None and logged.exc_info[0] is KeyError


async def test_a_bug_after_the_response_started_sends_nothing_more() -> None:
    exchange = RecordingExchange(status=200)  # a stream already under way
    await handle_chat(exchange, broken_services(), "/v1/chat/completions", endpoint=None)
    assert exchange.sent == []  # a second status line would corrupt the stream
