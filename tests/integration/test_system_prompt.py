"""System prompt rendering through the HTTP API."""

from __future__ import annotations

import httpx

from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway


def test_rendered_prompt_comes_first_and_client_system_messages_follow(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    body = {
        "model": "support-bot/friendly",
        "messages": [
            {"role": "system", "content": "Client rule: reply in French."},
            {"role": "developer", "content": "Dev note."},
            {"role": "user", "content": "bonjour"},
        ],
        "system_prompt_args": {"customer_name": "Zoé"},
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    sent = fake_upstream.last("ok")["messages"]
    assert sent[0] == {"role": "system", "content": "You help Zoé."}
    assert sent[1:] == body["messages"]


def test_request_params_override_variant_defaults(
    gateway: Gateway, fake_upstream: FakeOpenAI
) -> None:
    body = {
        "model": "support-bot/friendly",
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 1.2,
        "system_prompt_args": {"customer_name": "A"},
    }
    assert httpx.post(gateway.url + "/v1/chat/completions", json=body).status_code == 200
    assert fake_upstream.last("ok")["temperature"] == 1.2


def test_schema_violation_and_missing_arg_are_400(gateway: Gateway) -> None:
    missing = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "support-bot", "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing.status_code == 400
    assert "customer_name" in missing.json()["error"]["message"]
    wrong = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={
            "model": "support-bot",
            "messages": [{"role": "user", "content": "x"}],
            "system_prompt_args": {"customer_name": ["x"]},
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["param"] == "system_prompt_args.customer_name"
