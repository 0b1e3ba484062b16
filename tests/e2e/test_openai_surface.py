"""The rest of the OpenAI surface with the official SDK against a real gateway (issue 17):
``models.list()``, ``responses.create`` (plain, streaming, tools, ``text.format``, function and
model, ``previous_response_id``), embeddings (dummy and upstream), refusal parts."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import write_gateway_config
from tests.support.analytics import LOGGING_ENV, wait_rows
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway

SECRET = "sk-test-secret-123"
ARGS = {"system_prompt_args": {"customer_name": "Ada"}}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("openai-surface")
    config = write_gateway_config(root / "variants", fake_upstream)
    server = Gateway(
        config, root / "data", env={"FAKE_UPSTREAM_KEY": SECRET, **LOGGING_ENV}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


def logged(gw: Gateway, inference_id: str) -> dict[str, Any]:
    found = wait_rows(
        gw, f"SELECT * FROM inferences WHERE toString(id) = '{inference_id}'", lambda r: bool(r)
    )
    assert found, f"inference {inference_id} not logged"
    return found[0]


# -- models -----------------------------------------------------------------------------------


def test_models_list(client: openai.OpenAI, gw: Gateway) -> None:
    models = {m.id: m for m in client.models.list()}
    assert models["support-bot"].model_extra["kind"] == "function"
    assert models["passthrough"].model_extra["kind"] == "model"
    assert models["embed-local"].model_extra["kind"] == "embedding_model"
    assert {m.object for m in models.values()} == {"model"}
    assert client.models.retrieve("support-bot").model_extra["kind"] == "function"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    for prefix in ("/openai/v1", "/api/v1", "/v0"):
        response = httpx.get(gw.url + prefix + "/models", timeout=10)
        assert response.status_code == 200
        assert {m["id"] for m in response.json()["data"]} == set(models)


# -- responses --------------------------------------------------------------------------------


def test_response_from_a_model(client: openai.OpenAI, gw: Gateway) -> None:
    response = client.responses.create(model="passthrough", input="hello there")
    assert response.status == "completed"
    assert response.output_text == "echo: hello there"
    assert response.usage is not None and response.usage.input_tokens == 11
    row = logged(gw, response.id)
    assert row["model"] == "passthrough" and row["provider"] == "ok"


def test_response_from_a_function_applies_variant_and_template(
    client: openai.OpenAI, gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    response = client.responses.create(
        model="support-bot/concise",
        input="where is my order?",
        instructions="Answer in English.",
        extra_body=ARGS,
    )
    assert response.output_text == "echo: where is my order?"
    assert response.model_extra["function"] == "support-bot"
    assert response.model_extra["variant"] == "concise"
    sent = fake_upstream.last("ok")
    assert sent["messages"][0] == {"role": "system", "content": "Be brief with Ada."}
    assert sent["messages"][1] == {"role": "system", "content": "Answer in English."}
    assert sent["max_tokens"] == 50  # the variant's
    row = logged(gw, response.id)
    assert (row["function"], row["variant"]) == ("support-bot", "concise")
    assert row["system_prompt"] == "Be brief with Ada."
    feedback = httpx.post(
        gw.url + "/v1/feedback",
        json={"metric_name": "thumbs_up", "inference_id": response.id, "value": True},
        timeout=10,
    )
    assert feedback.status_code == 200, feedback.text
    uuid.UUID(feedback.json()["feedback_id"])


def test_streamed_response(client: openai.OpenAI, gw: Gateway) -> None:
    events = list(
        client.responses.create(
            model="support-bot", input="one two three", stream=True, extra_body=ARGS
        )
    )
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: one two three"
    final = events[-1].response
    assert final.output_text == "echo: one two three"
    assert final.usage is not None and final.usage.output_tokens == 4
    assert [e.sequence_number for e in events] == list(range(len(events)))
    row = logged(gw, final.id)
    assert row["streamed"] and row["function"] == "support-bot"


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}


def test_tools_and_previous_response_id(client: openai.OpenAI, fake_upstream: FakeOpenAI) -> None:
    first = client.responses.create(model="passthrough", input="weather in Paris?", tools=[WEATHER])
    [call] = first.output
    assert call.type == "function_call"
    assert (call.name, call.arguments, call.call_id) == ("get_weather", '{"q": "x"}', "call_1")
    assert fake_upstream.last("ok")["tools"][0]["function"]["name"] == "get_weather"
    second = client.responses.create(
        model="passthrough",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
    )
    assert second.previous_response_id == first.id
    sent = fake_upstream.last("ok")["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_unknown_previous_response_id_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="passthrough", input="hi", previous_response_id=str(uuid.uuid4())
        )
    assert caught.value.body["param"] == "previous_response_id"


class Person(BaseModel):
    name: str
    age: int


def test_text_format_json_schema_on_the_dummy(client: openai.OpenAI) -> None:
    schema = Person.model_json_schema() | {"additionalProperties": False}
    response = client.responses.create(
        model="local",
        input="Ada, 36",
        text={
            "format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}
        },
    )
    Person.model_validate_json(response.output_text)
    parsed = client.responses.parse(model="local", input="Ada, 36", text_format=Person)
    assert isinstance(parsed.output_parsed, Person)


# -- embeddings -------------------------------------------------------------------------------


def test_embeddings_through_the_dummy(client: openai.OpenAI, gw: Gateway) -> None:
    raw = client.embeddings.with_raw_response.create(model="embed-local", input=["a b", "c"])
    result = raw.parse()  # the SDK asked for base64 and decoded it
    assert [len(d.embedding) for d in result.data] == [8, 8]
    assert all(math.isclose(sum(x * x for x in d.embedding), 1, rel_tol=1e-5) for d in result.data)
    again = client.embeddings.create(model="embed-local", input="a b", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(result.data[0].embedding, rel=1e-6)
    assert result.usage.prompt_tokens == 3
    assert result.usage.model_extra["cost"] == pytest.approx(3 * 0.5 / 1e6, abs=1e-12)
    row = logged(gw, raw.headers["x-switchyard-inference-id"])
    assert row["provider"] == "dummy" and row["prompt_tokens"] == 3
    assert row["cost"] == pytest.approx(3 * 0.5 / 1e6, abs=1e-12)
    assert json.loads(row["input_messages"]) == ["a b", "c"]
    assert json.loads(row["output"]) == {"object": "list", "embeddings": 2, "dimensions": 8}
    assert json.loads(row["params"])["kind"] == "embedding"


def test_embeddings_through_the_upstream(
    client: openai.OpenAI, gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="embed-upstream", input=["hello", "hi"], encoding_format="float", user="u-1"
    )
    result = raw.parse()
    assert [d.embedding for d in result.data] == [[0.0, 5.0, 0.5], [1.0, 2.0, 0.5]]
    assert result.usage.prompt_tokens == 6
    sent = fake_upstream.requests["ok:embeddings"][-1]
    headers = sent.pop("_headers")
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert sent == {
        "model": "text-embedding-3-small",
        "input": ["hello", "hi"],
        "encoding_format": "float",
        "user": "u-1",
    }
    inference_id = raw.headers["x-switchyard-inference-id"]
    row = logged(gw, inference_id)
    assert (row["provider"], row["provider_model"]) == ("ok", "text-embedding-3-small")
    assert row["prompt_tokens"] == 6 and not row["usage_estimated"]
    assert "0.5" not in row["output"]  # no vectors stored
    attempts = wait_rows(
        gw,
        f"SELECT provider, status FROM model_inferences WHERE toString(inference_id) = "
        f"'{inference_id}' ORDER BY attempt",
        lambda r: len(r) == 2,
    )
    assert [(a["provider"], a["status"]) for a in attempts] == [("fail500", "error"), ("ok", "ok")]


def test_embeddings_refuse_chat_models_and_chat_refuses_embedding_models(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="passthrough", input="x")
    assert caught.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="embed-local", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["code"] == "embedding_model"


# -- refusal parts ----------------------------------------------------------------------------


def test_assistant_refusal_part_is_accepted_and_passed_on(
    client: openai.OpenAI, fake_upstream: FakeOpenAI
) -> None:
    completion = client.chat.completions.create(
        model="passthrough",
        messages=[
            {"role": "user", "content": "do something bad"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help."}]},
            {"role": "user", "content": "ok, something good"},
        ],
    )
    assert completion.choices[0].message.content == "echo: ok, something good"
    sent = fake_upstream.last("ok")["messages"][1]
    assert sent == {
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "I can't help."}],
    }
