"""Scripted runs of pydantic-ai, langchain-openai and instructor against the demo config
(issue 17): each library's default setup, as docs/clients.md shows it, must finish on the
demo's dummy providers (plain answers, tool loops, structured output, embeddings)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from pydantic import BaseModel

from tests.support.gateway import Gateway, copy_demo_config

ARGS = {"system_prompt_args": {"customer_name": "Ada"}}


class Invoice(BaseModel):
    vendor: str
    total: float
    due_date: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("demo-clients")
    server = Gateway(copy_demo_config(root / "variants"), root / "data").start()
    yield server
    server.stop()


@pytest.fixture
def base_url(demo: Gateway, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo's /v1, also as OPENAI_BASE_URL/OPENAI_API_KEY (what `openai:` models read)."""
    url = demo.url + "/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    return url


def test_pydantic_ai_default_openai_prefix(base_url: str) -> None:
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIResponsesModel

    agent = Agent("openai:support-bot", model_settings={"extra_body": ARGS})
    assert isinstance(agent.model, OpenAIResponsesModel)  # the default: /v1/responses
    assert agent.run_sync("Where is my order?").output

    tools_agent = Agent("openai:tool-caller")

    @tools_agent.tool_plain
    def lookup_order(query: str) -> str:
        return f"order {query!r} ships tomorrow"

    result = tools_agent.run_sync("Where is order 42?")
    assert result.output == "Tool results: order 'Where is order 42?' ships tomorrow"

    tool_output = Agent("openai:invoice-extractor", output_type=Invoice).run_sync("ACME, 9.50")
    assert isinstance(tool_output.output, Invoice)
    native = Agent("openai:invoice-extractor", output_type=NativeOutput(Invoice))
    assert isinstance(native.run_sync("ACME, 9.50").output, Invoice)

    with Agent("openai:gpt-4o-mini").run_stream_sync("stream this please") as stream:
        assert stream.get_output() == "stream this please"


def test_langchain_openai(base_url: str) -> None:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

    llm = ChatOpenAI(model="support-bot", base_url=base_url, api_key="unused", extra_body=ARGS)
    assert llm.invoke("Where is my order?").content
    assert "".join(str(chunk.content) for chunk in llm.stream("stream me"))
    assert isinstance(llm.with_structured_output(Invoice).invoke("ACME, 9.50"), Invoice)
    responses = ChatOpenAI(
        model="invoice-extractor", base_url=base_url, api_key="unused", use_responses_api=True
    )
    assert isinstance(responses.with_structured_output(Invoice).invoke("ACME"), Invoice)
    tools = ChatOpenAI(model="tool-caller", base_url=base_url, api_key="unused")
    [call] = tools.bind_tools([Invoice]).invoke("ACME").tool_calls
    assert call["name"] == "Invoice" and set(call["args"]) == {"vendor", "total", "due_date"}
    embeddings = OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=base_url,
        api_key="unused",
        check_embedding_ctx_length=False,
    )
    vectors = embeddings.embed_documents(["refund policy", "shipping times"])
    assert [len(v) for v in vectors] == [256, 256] and vectors[0] != vectors[1]
    assert embeddings.embed_query("refund policy") == pytest.approx(vectors[0])


def test_instructor(base_url: str) -> None:
    import instructor

    client = instructor.from_openai(openai.OpenAI(base_url=base_url, api_key="unused"))
    invoice = client.chat.completions.create(  # Mode.TOOLS, the default: a forced tool call
        model="extract-invoice",
        response_model=Invoice,
        messages=[{"role": "user", "content": "ACME Ltd, total 9.50, due 2025-01-31"}],
        extra_body={"system_prompt_args": {"currency": "EUR"}},
        max_retries=0,
    )
    assert isinstance(invoice, Invoice)
    schema_mode = instructor.from_openai(
        openai.OpenAI(base_url=base_url, api_key="unused"), mode=instructor.Mode.JSON_SCHEMA
    )
    assert isinstance(
        schema_mode.chat.completions.create(
            model="extract-invoice",
            response_model=Invoice,
            messages=[{"role": "user", "content": "ACME"}],
            max_retries=0,
        ),
        Invoice,
    )
    responses_mode = instructor.from_openai(
        openai.OpenAI(base_url=base_url, api_key="unused"), mode=instructor.Mode.RESPONSES_TOOLS
    )
    assert isinstance(
        responses_mode.responses.create(
            model="extract-invoice",
            response_model=Invoice,
            input=[{"role": "user", "content": "ACME"}],
            max_retries=0,
        ),
        Invoice,
    )
