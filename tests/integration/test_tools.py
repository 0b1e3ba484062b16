"""Server-side tools (declared by a function, toggled per request) and the ``openai`` provider's
parameter handling (capability lists for drop_params, n, logprobs, seed, structured outputs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config.compile import validate_document
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway, start_gateway

ORDERS = """
description = "Order support with server-side tools"
default_variant = "all-tools"

[tools.lookup_order]
description = "Find an order by id"
parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }

[tools.refund]
description = "Refund an order"
parameters = { type = "object", properties = { order_id = { type = "string" }, amount = { type = "number" } } }

[tools.escalate]
description = "Hand the conversation to a human"

[variants.all-tools]
model = "gpt"

[variants.lookup-only]
model = "gpt"
weight = 0
tools = ["lookup_order"]

[variants.claude]
model = "claude"
weight = 0
tools = ["lookup_order", "refund"]

[variants.strict-extra]
model = "strict"
weight = 0
tools = []
extra_body = { top_k = 5, vendor_flag = "on" }
"""


def gateway_toml(oai: FakeOpenAI, ant: FakeAnthropic) -> str:
    return f"""
[providers.oai]
type = "openai"
base_url = "{oai.url("ok")}"

[providers.oai-strict]
type = "openai"
base_url = "{oai.url("strict")}"
params = "openai"

[providers.samba]
type = "openai"
base_url = "{oai.url("samba")}"
params = "sambanova"

[providers.claude]
type = "anthropic"
base_url = "{ant.url("ok")}"
api_key_env = "ANT_KEY"

[models.gpt]
routing = [{{ provider = "oai", name = "upstream-model" }}]
[models.strict]
routing = [{{ provider = "oai-strict", name = "gpt-4o" }}]
[models.samba]
routing = [{{ provider = "samba", name = "Meta-Llama-3.3-70B-Instruct" }}]
[models.claude]
routing = [{{ provider = "claude", name = "claude-sonnet" }}]
"""


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> Iterator[Gateway]:
    server = start_gateway(
        tmp_path_factory.mktemp("tools"),
        gateway_toml(fake_upstream, fake_anthropic),
        {"orders": ORDERS},
        env={"ANT_KEY": "sk-ant-test"},
    )
    yield server
    server.stop()


def chat(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "where is order 7?"}], **body},
        timeout=10,
    )


def sent_tools(fake: FakeOpenAI, behaviour: str = "ok") -> list[str] | None:
    tools = fake.last(behaviour).get("tools")
    return None if tools is None else [t["function"]["name"] for t in tools]


MY_TOOL = {
    "type": "function",
    "function": {"name": "my_tool", "parameters": {"type": "object", "properties": {}}},
}


# -- server-side tools ----------------------------------------------------------------------------


def test_function_tools_are_offered_as_configured(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    response = chat(gw, {"model": "orders"})
    assert response.status_code == 200, response.text
    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "lookup_order"
    tools = fake_upstream.last("ok")["tools"]
    assert [t["function"]["name"] for t in tools] == ["lookup_order", "refund", "escalate"]
    assert tools[0] == {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order by id",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
    assert tools[2]["function"]["parameters"] == {"type": "object", "properties": {}}


def test_toggles_and_use_tools(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    assert (
        chat(
            gw, {"model": "orders", "tools": [{"id": "lookup_order", "enabled": False}]}
        ).status_code
        == 200
    )
    assert sent_tools(fake_upstream) == ["refund", "escalate"]

    # A tool of the function that the variant does not offer is added by enabled: true.
    assert (
        chat(
            gw, {"model": "orders/lookup-only", "tools": [{"id": "escalate", "enabled": True}]}
        ).status_code
        == 200
    )
    assert sent_tools(fake_upstream) == ["lookup_order", "escalate"]

    response = chat(
        gw, {"model": "orders", "use_tools": False, "tools": [{"id": "refund", "enabled": True}]}
    )
    assert response.json()["choices"][0]["message"]["content"] == "echo: where is order 7?"
    assert sent_tools(fake_upstream) is None


def test_request_tools_are_appended_and_clashes_refused(
    gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    assert (
        chat(
            gw, {"model": "orders", "tools": [MY_TOOL, {"id": "refund", "enabled": False}]}
        ).status_code
        == 200
    )
    assert sent_tools(fake_upstream) == ["lookup_order", "escalate", "my_tool"]

    clash = {"type": "function", "function": {"name": "refund"}}
    response = chat(gw, {"model": "orders", "tools": [clash]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools[0].function.name" and "refund" in error["message"]
    # Disabled, the server's refund no longer clashes: the client's own takes its place.
    assert (
        chat(
            gw, {"model": "orders", "tools": [{"id": "refund", "enabled": False}, clash]}
        ).status_code
        == 200
    )
    assert sent_tools(fake_upstream) == ["lookup_order", "escalate", "refund"]


@pytest.mark.parametrize("model", ["orders", "gpt"])
def test_unknown_tool_id_is_a_400_naming_it(gw: Gateway, model: str) -> None:
    response = chat(gw, {"model": model, "tools": [MY_TOOL, {"id": "teleport", "enabled": False}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools[1].id" and "teleport" in error["message"]


def test_server_tools_reach_anthropic(gw: Gateway, fake_anthropic: FakeAnthropic) -> None:
    response = chat(gw, {"model": "orders/claude"})
    assert (
        response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"]
        == "lookup_order"
    )
    tools = fake_anthropic.last("ok")["tools"]
    assert [(t["name"], t["description"]) for t in tools] == [
        ("lookup_order", "Find an order by id"),
        ("refund", "Refund an order"),
    ]
    assert tools[0]["input_schema"]["required"] == ["order_id"]


def test_tool_config_problems_are_reported() -> None:
    function = {
        "tools": {"bad name!": {}, "lookup": {"parameters": {"type": "object", "properties": 5}}},
        "variants": {"v": {"model": "m", "tools": ["lookup", "nope"]}},
    }
    document = {
        "providers": {"d": {"type": "dummy"}},
        "models": {"m": {"routing": [{"provider": "d", "name": "x"}]}},
        "metrics": {},
        "functions": {"f": function},
    }
    problems = {(p.key, p.message.split(":")[0]) for p in validate_document(document)}
    assert (
        "functions.f.variants.v.tools",
        "unknown tool 'nope' (not in the function's [tools])",
    ) in problems
    assert any(key.startswith("functions.f.tools.bad name!") for key, _ in problems)
    assert ("functions.f.tools.lookup.parameters", "invalid JSON Schema") in problems


# -- the openai provider's parameters ---------------------------------------------------------------

EVERYTHING = {
    "temperature": 0.5,
    "top_p": 0.9,
    "max_tokens": 30,
    "stop": ["END"],
    "seed": 42,
    "n": 2,
    "frequency_penalty": 0.1,
    "presence_penalty": 0.2,
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"50256": -100},
    "user": "u-1",
    "parallel_tool_calls": True,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
    },
    "top_k": 40,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "guided_json": {"type": "object"},
    "guided_regex": "[a-z]+",
    "guided_choice": ["a", "b"],
    "guided_grammar": "root ::= 'a'",
    "guided_decoding_backend": "xgrammar",
    "guided_whitespace_pattern": " ",
    "structural_tag": "{}",
    "chat_template_kwargs": {"enable_thinking": False},
    "mm_processor_kwargs": {"fps": 1},
}
VLLM_ONLY = {
    "top_k",
    "min_p",
    "repetition_penalty",
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "guided_decoding_backend",
    "guided_whitespace_pattern",
    "structural_tag",
    "chat_template_kwargs",
    "mm_processor_kwargs",
}


def test_vllm_preset_forwards_every_parameter(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    response = chat(gw, {"model": "gpt", **EVERYTHING})
    assert response.status_code == 200, response.text
    sent = fake_upstream.last("ok")
    assert {k: sent[k] for k in EVERYTHING} == EVERYTHING
    body = response.json()
    assert len(body["choices"]) == 2 and all(
        c["logprobs"] == {"content": []} for c in body["choices"]
    )
    ids = [c["completion_id"] for c in body["choices"]]
    assert ids[0] == body["id"] and len(set(ids)) == 2


def test_openai_preset_drops_vllm_extensions(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    assert chat(gw, {"model": "strict", **EVERYTHING}).status_code == 200
    sent = fake_upstream.last("strict")
    assert not VLLM_ONLY & sent.keys()
    assert {k: sent[k] for k in EVERYTHING.keys() - VLLM_ONLY} == {
        k: EVERYTHING[k] for k in EVERYTHING.keys() - VLLM_ONLY
    }

    # drop_params: false sends everything, as it came.
    assert (
        chat(
            gw, {"model": "strict", **EVERYTHING, "drop_params": False, "vendor_flag": 1}
        ).status_code
        == 200
    )
    sent = fake_upstream.last("strict")
    assert {k: sent[k] for k in EVERYTHING} == EVERYTHING and sent["vendor_flag"] == 1


def test_sambanova_preset(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    assert chat(gw, {"model": "samba", **EVERYTHING}).status_code == 200
    sent = fake_upstream.last("samba")
    kept = {"temperature", "top_p", "max_tokens", "stop", "response_format", "top_k"}
    assert {k for k in EVERYTHING if k in sent} == kept


def test_streams_ask_for_usage_when_the_server_takes_it(
    gw: Gateway, fake_upstream: FakeOpenAI
) -> None:
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={
            "model": "samba",
            "stream": True,
            "messages": [{"role": "user", "content": "count me"}],
        },
    ) as response:
        assert (
            response.status_code == 200 and "usage" not in response.read().decode()
        )  # the client did not ask
    assert fake_upstream.last("samba")["stream_options"] == {"include_usage": True}


def test_variant_extra_body(gw: Gateway, fake_upstream: FakeOpenAI) -> None:
    """Known parameters in extra_body are defaults like any (top_k: dropped by the openai preset);
    the rest is sent as is."""
    assert chat(gw, {"model": "orders/strict-extra"}).status_code == 200
    sent = fake_upstream.last("strict")
    assert "top_k" not in sent and sent["vendor_flag"] == "on" and "tools" not in sent
