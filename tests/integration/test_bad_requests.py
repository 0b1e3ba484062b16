"""Malformed requests get a clean 4xx in OpenAI's error shape naming the parameter; never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway import Gateway

OK_MESSAGES = [{"role": "user", "content": "hi"}]
ARGS = {"system_prompt_args": {"customer_name": "Ada"}}

CASES = [
    # (id, body, status, param)
    ("messages-missing", {"model": "local"}, 400, "messages"),
    ("messages-empty", {"model": "local", "messages": []}, 400, "messages"),
    ("messages-not-a-list", {"model": "local", "messages": "hi"}, 400, "messages"),
    (
        "message-without-role",
        {"model": "local", "messages": [{"content": "hi"}]},
        400,
        "messages[0].role",
    ),
    (
        "unknown-role",
        {"model": "local", "messages": [{"role": "wizard", "content": "hi"}]},
        400,
        "messages[0].role",
    ),
    (
        "user-without-content",
        {"model": "local", "messages": [{"role": "user"}]},
        400,
        "messages[0].content",
    ),
    (
        "tool-without-call-id",
        {"model": "local", "messages": [{"role": "tool", "content": "x"}]},
        400,
        "messages[0].tool_call_id",
    ),
    (
        "bad-content-part",
        {
            "model": "local",
            "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}],
        },
        400,
        "messages[0].content[0].type",
    ),
    (
        "temperature-too-high",
        {"model": "local", "messages": OK_MESSAGES, "temperature": 2.5},
        400,
        "temperature",
    ),
    (
        "temperature-not-number",
        {"model": "local", "messages": OK_MESSAGES, "temperature": "hot"},
        400,
        "temperature",
    ),
    ("top-p-above-one", {"model": "local", "messages": OK_MESSAGES, "top_p": 1.5}, 400, "top_p"),
    ("n-zero", {"model": "local", "messages": OK_MESSAGES, "n": 0}, 400, "n"),
    (
        "stop-five-entries",
        {"model": "local", "messages": OK_MESSAGES, "stop": ["a", "b", "c", "d", "e"]},
        400,
        "stop",
    ),
    (
        "penalty-out-of-range",
        {"model": "local", "messages": OK_MESSAGES, "presence_penalty": -3},
        400,
        "presence_penalty",
    ),
    (
        "top-logprobs-too-many",
        {"model": "local", "messages": OK_MESSAGES, "logprobs": True, "top_logprobs": 21},
        400,
        "top_logprobs",
    ),
    (
        "top-logprobs-without-logprobs",
        {"model": "local", "messages": OK_MESSAGES, "top_logprobs": 2},
        400,
        "top_logprobs",
    ),
    (
        "max-tokens-zero",
        {"model": "local", "messages": OK_MESSAGES, "max_tokens": 0},
        400,
        "max_tokens",
    ),
    (
        "session-id-not-uuid",
        {"model": "local", "messages": OK_MESSAGES, "session_id": "abc"},
        400,
        "session_id",
    ),
    (
        "tools-malformed",
        {"model": "local", "messages": OK_MESSAGES, "tools": [{"type": "function"}]},
        400,
        "tools[0]",
    ),
    (
        "tools-not-a-list",
        {"model": "local", "messages": OK_MESSAGES, "tools": {"name": "x"}},
        400,
        "tools",
    ),
    (
        "tool-name-invalid",
        {
            "model": "local",
            "messages": OK_MESSAGES,
            "tools": [{"type": "function", "function": {"name": "has space"}}],
        },
        400,
        "tools[0].function.name",
    ),
    (
        "response-format-unknown",
        {"model": "local", "messages": OK_MESSAGES, "response_format": {"type": "xml"}},
        400,
        "response_format.type",
    ),
    (
        "json-schema-missing",
        {"model": "local", "messages": OK_MESSAGES, "response_format": {"type": "json_schema"}},
        400,
        "response_format.json_schema",
    ),
    (
        "labels-not-strings",
        {"model": "local", "messages": OK_MESSAGES, "labels": {"a": 1}},
        400,
        "labels",
    ),
    (
        "stream-not-bool",
        {"model": "local", "messages": OK_MESSAGES, "stream": "yes"},
        400,
        "stream",
    ),
    ("model-missing", {"messages": OK_MESSAGES}, 400, "model"),
    ("unknown-model", {"model": "no-such-model", "messages": OK_MESSAGES}, 404, "model"),
    (
        "unknown-variant",
        {"model": "support-bot/nope", "messages": OK_MESSAGES, **ARGS},
        404,
        "model",
    ),
    (
        "unknown-pinned-tz-variant",
        {
            "model": "support-bot",
            "messages": OK_MESSAGES,
            "tensorzero::variant_name": "nope",
            **ARGS,
        },
        400,
        "tensorzero::variant_name",
    ),
    (
        "args-missing",
        {"model": "support-bot", "messages": OK_MESSAGES},
        400,
        "system_prompt_args.customer_name",
    ),
    (
        "args-wrong-type",
        {
            "model": "support-bot",
            "messages": OK_MESSAGES,
            "system_prompt_args": {"customer_name": 5},
        },
        400,
        "system_prompt_args.customer_name",
    ),
    (
        "args-not-object",
        {"model": "support-bot", "messages": OK_MESSAGES, "system_prompt_args": [1]},
        400,
        "system_prompt_args",
    ),
    (
        "campaign-unknown",
        {"model": "support-bot", "messages": OK_MESSAGES, "ab_campaign": "nope", **ARGS},
        400,
        "ab_campaign",
    ),
    (
        "campaign-paused",
        {"model": "support-bot", "messages": OK_MESSAGES, "ab_campaign": "old", **ARGS},
        400,
        "ab_campaign",
    ),
    ("n-over-128", {"model": "local", "messages": OK_MESSAGES, "n": 129}, 400, "n"),
    (
        "labels-65-entries",
        {"model": "local", "messages": OK_MESSAGES, "labels": {f"k{i}": "v" for i in range(65)}},
        400,
        "labels",
    ),
    (
        "labels-long-key",
        {"model": "local", "messages": OK_MESSAGES, "labels": {"k" * 129: "v"}},
        400,
        "labels",
    ),
    (
        "metadata-long-value",
        {"model": "local", "messages": OK_MESSAGES, "metadata": {"k": "v" * 2049}},
        400,
        "metadata",
    ),
    (
        "tz-tags-65-entries",
        {
            "model": "local",
            "messages": OK_MESSAGES,
            "tensorzero::tags": {f"k{i}": "v" for i in range(65)},
        },
        400,
        "tensorzero::tags",
    ),
    (
        "tags-65-items",
        {"model": "local", "messages": OK_MESSAGES, "tags": [str(i) for i in range(65)]},
        400,
        "tags",
    ),
    (
        "tag-too-long",
        {"model": "local", "messages": OK_MESSAGES, "tags": ["ok", "t" * 257]},
        400,
        "tags[1]",
    ),
    (
        "tool-toggle-unknown",
        {
            "model": "support-bot",
            "messages": OK_MESSAGES,
            "tools": [{"id": "search", "enabled": False}],
            **ARGS,
        },
        400,
        "tools[0].id",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "param"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_request(gateway: Gateway, body: dict, status: int, param: str) -> None:
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == ("invalid_request_error" if status == 400 else "not_found_error")
    assert error["message"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_body_that_is_not_a_json_object(gateway: Gateway, raw: bytes) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_model_message_names_it_and_nothing_secret(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "gpt-9", "messages": OK_MESSAGES}
    )
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert "gpt-9" in error["message"]
    assert "sk-" not in response.text and "127.0.0.1" not in response.text


def test_body_over_the_limit_is_413(tmp_path, fake_upstream) -> None:
    from tests.conftest import write_gateway_config

    config = write_gateway_config(tmp_path / "variants", fake_upstream)
    gateway = Gateway(config, tmp_path / "data", env={"SWITCHYARD_MAX_BODY_BYTES": "2048"}).start()
    try:
        big = {"model": "local", "messages": [{"role": "user", "content": "x" * 4096}]}
        response = httpx.post(gateway.url + "/v1/chat/completions", json=big)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        small = httpx.post(
            gateway.url + "/v1/chat/completions", json={"model": "local", "messages": OK_MESSAGES}
        )
        assert small.status_code == 200
        # no content-length: the body is counted as it arrives
        chunked = httpx.post(gateway.url + "/v1/chat/completions", content=_chunks(big))
        assert chunked.status_code == 413
        assert chunked.json()["error"]["code"] == "payload_too_large"
        small_chunked = {"model": "local", "messages": OK_MESSAGES}
        accepted = httpx.post(gateway.url + "/v1/chat/completions", content=_chunks(small_chunked))
        assert accepted.status_code == 200, accepted.text
    finally:
        gateway.stop()


def _chunks(body: dict) -> Iterator[bytes]:
    raw = json.dumps(body).encode()
    for start in range(0, len(raw), 512):
        yield raw[start : start + 512]


def test_wrong_method_and_unknown_path_are_openai_shaped(gateway: Gateway) -> None:
    missing = httpx.post(gateway.url + "/v1/nothing-here", json={})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong = httpx.get(gateway.url + "/v1/chat/completions")
    assert wrong.status_code == 405 and "error" in wrong.json()


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("path", "raw", "code"),
    [
        ("/v1/chat/completions", b'{"model": "\xff\xfe", "messages": []}', "invalid_utf8"),
        (
            "/v1/chat/completions",
            b'{"model": "local", "messages": [{"role": "user", "content": "\xc3("}]}',
            "invalid_utf8",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "local", "messages": [{"role": "user", "content": "hi"}], '
            b'"system_prompt_args": {"a": ' + DEEP + b"}}",
            "nesting_too_deep",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "local", "drop_params": false, "x": '
            + DEEP
            + b', "messages": [{"role": "user", "content": "hi"}]}',
            "nesting_too_deep",
        ),
        ("/v1/feedback", b'{"metric_name": "\xff\xfe"}', "invalid_utf8"),
        ("/v1/feedback", b'{"metric_name": "m", "value": ' + DEEP + b"}", "nesting_too_deep"),
        ("/admin/config/validate", b'{"providers": "\xff"}', "invalid_utf8"),
        ("/admin/config/validate", b'{"providers": ' + DEEP + b"}", "nesting_too_deep"),
    ],
    ids=[
        "chat-model",
        "chat-content",
        "chat-deep-args",
        "chat-deep-extra",
        "feedback-utf8",
        "feedback-deep",
        "admin-utf8",
        "admin-deep",
    ],
)
def test_bad_bytes_are_400_not_500(gateway: Gateway, path: str, raw: bytes, code: str) -> None:
    response = httpx.post(
        gateway.url + path, content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/admin/keys", {"name": "k", "rpm_limit": "5"}, "rpm_limit"),
        ("/v1/feedback", {"metric_name": "thumbs_up", "value": True, "dryrun": "true"}, "dryrun"),
    ],
)
def test_typed_bodies_are_decoded_strictly(
    gateway: Gateway, path: str, body: dict, param: str
) -> None:
    """A string is no integer or boolean: Litestar's lenient coercion is not used."""
    response = httpx.post(gateway.url + path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_limits_at_the_ceiling_are_accepted(gateway: Gateway) -> None:
    body = {
        "model": "local",
        "messages": OK_MESSAGES,
        "n": 128,
        "labels": {f"{i:0128d}": "v" * 2048 for i in range(64)},
        "tags": ["t" * 256] * 64,
    }
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 128


def test_feedback_tags_are_limited(gateway: Gateway) -> None:
    body = {"metric_name": "thumbs_up", "value": True, "dryrun": True}
    tags = {f"k{i}": "v" for i in range(65)}
    response = httpx.post(gateway.url + "/v1/feedback", json={**body, "tags": tags})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "tags"


def test_lowered_limits_from_settings(tmp_path, fake_upstream) -> None:
    from tests.conftest import write_gateway_config

    config = write_gateway_config(tmp_path / "variants", fake_upstream)
    env = {"SWITCHYARD_MAX_N": "2", "SWITCHYARD_MAX_LABELS": "1", "SWITCHYARD_MAX_TAG_CHARS": "3"}
    gateway = Gateway(config, tmp_path / "data", env=env).start()
    try:
        for extra, param in [
            ({"n": 3}, "n"),
            ({"labels": {"a": "1", "b": "2"}}, "labels"),
            ({"tags": ["abcd"]}, "tags[0]"),
        ]:
            body = {"model": "local", "messages": OK_MESSAGES, **extra}
            response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == param
            assert param.split("[")[0] in response.json()["error"]["message"]
        ok = {"model": "local", "messages": OK_MESSAGES, "n": 2, "tags": ["abc"]}
        assert httpx.post(gateway.url + "/v1/chat/completions", json=ok).status_code == 200
    finally:
        gateway.stop()


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ({"customer_name": {"not": "a scalar"}}, "system_prompt_args.customer_name"),
        ({}, "system_prompt_args.customer_name"),
    ],
)
def test_system_prompt_args_failure_names_the_argument(
    gateway: Gateway, args: dict, param: str
) -> None:
    body = {"model": "support-bot", "messages": OK_MESSAGES, "system_prompt_args": args}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["message"].startswith(param + " ")


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"model": "local", "messages": [{"role": "user", "content": "\ud800"}]}',
        rb'{"model": "local", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        rb'{"model": "local", "messages": [{"role": "user", "content": "hi"}], "seed": 1e999}',
    ],
    ids=["lone-surrogate", "nan", "huge-number"],
)
def test_lone_surrogates_and_nan_are_400(gateway: Gateway, raw: bytes) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
