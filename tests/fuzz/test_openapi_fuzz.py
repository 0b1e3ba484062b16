"""Schemathesis against the gateway's own ``/schema/openapi.json`` (docs/security.md, "Fuzzing").

Every operation: no generated request, valid or not, gets a 5xx (``not_a_server_error``). The
chat and feedback bodies also: a body the schema allows is accepted (``positive_data_acceptance``:
2xx, or 404 for a model, function or target that does not exist) and one it forbids is refused
(``negative_data_rejection``). Seeded and bounded (``FUZZ_EXAMPLES`` per operation, 2 minutes at
most in CI: ``FUZZ_SECONDS``); run it longer with
``FUZZ_SECONDS=600 FUZZ_EXAMPLES=1000 FUZZ_SEED=<n> pytest tests/fuzz`` (docs/security.md).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.conftest import serve_test_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.gateway import Gateway

ADMIN_TOKEN = "fuzz-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("FUZZ_SEED", "20261127"))
# The whole run stops generating after this many seconds (CI: well inside 2 minutes).
BUDGET_S = float(os.environ.get("FUZZ_SECONDS", "100"))
# Bodies whose schema is precise enough to judge acceptance and rejection by.
CONTRACT_CHECKED = {"/v1/chat/completions", "/v1/feedback"}


@pytest.fixture(scope="module")
def fuzz_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeOpenAI
) -> Iterator[Gateway]:
    env = {
        "SWITCHYARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "SWITCHYARD_ADMIN_SQL_TIMEOUT_S": "2",
        "SWITCHYARD_LOG_LEVEL": "warning",
    }
    server = serve_test_config(tmp_path_factory.mktemp("fuzz"), fake_upstream, env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_gateway: Gateway) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        }
    )
    return schemathesis.openapi.from_url(fuzz_gateway.url + "/schema/openapi.json", config=config)


CHAT_INTS = (
    "max_tokens",
    "max_completion_tokens",
    "n",
    "seed",
    "top_logprobs",
    "top_k",
    "max_ttft_ms",
)


def _semantic(case: schemathesis.Case) -> schemathesis.Case:
    """Make a schema-valid body meet the rules a JSON Schema does not carry (docs/security.md, and
    docs/security.md "Fuzzing"), so ``positive_data_acceptance`` judges what the schema
    promises: the model must exist (``local``, the dummy provider, answers anything valid),
    a ``tool`` message needs ``tool_call_id``, user/system/developer messages need content,
    only assistant messages hold refusal parts,
    ``top_logprobs`` needs ``logprobs``, a ``json_schema`` format needs its schema, tool
    toggles name server tools; feedback names exactly one target and a metric's value type.
    A JSON number with a fraction (``1.0``) is no integer to the strict decoder."""
    body = case.body
    if not isinstance(body, dict):
        return case
    if case.path == "/v1/chat/completions":
        body["model"] = "local"
        for key in ("ab_campaign", "tensorzero::variant_name", "tools", "use_tools"):
            body.pop(key, None)
        for message in body.get("messages") or []:
            if message.get("role") == "tool" and not message.get("tool_call_id"):
                message["tool_call_id"] = "call_1"
            if message.get("role") != "assistant" and isinstance(message.get("content"), list):
                kept = [p for p in message["content"] if p.get("type") != "refusal"]
                message["content"] = kept or "hi"  # refusal parts are an assistant's only
            if (
                message.get("role") in ("user", "system", "developer")
                and message.get("content") is None
            ):
                message["content"] = "hi"
        if body.get("top_logprobs") is not None:
            body["logprobs"] = True
        fmt = body.get("response_format")
        if (
            isinstance(fmt, dict)
            and fmt.get("type") == "json_schema"
            and not fmt.get("json_schema")
        ):
            fmt["json_schema"] = {"name": "answer"}
        for key in CHAT_INTS:
            if isinstance(body.get(key), float):
                body[key] = int(body[key])
        cache = body.get("tensorzero::cache_options")
        if isinstance(cache, dict) and isinstance(cache.get("max_age_s"), float):
            cache["max_age_s"] = int(cache["max_age_s"])
    elif case.path == "/v1/feedback":
        # thumbs_up is inference-level: an inference or completion id, not an episode.
        target = "completion_id" if body.get("completion_id") else "inference_id"
        for key in ("inference_id", "completion_id", "episode_id"):
            body.pop(key, None)
        body[target] = str(uuid.uuid4())
        body["metric_name"], body["value"] = "thumbs_up", True
    return case


class _BudgetSpent(Exception):
    """Stops one operation's examples (there is no shrink phase, so it is not replayed)."""


def _fuzz(operation: Any, mode: GenerationMode, gateway: Gateway, deadline: float) -> list[str]:
    """Run one operation's generated cases; the failures, as text."""
    checks = [not_a_server_error]
    if operation.path in CONTRACT_CHECKED:
        checks += [negative_data_rejection, positive_data_acceptance]
    failures: list[str] = []
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and operation.path in CONTRACT_CHECKED:
        strategy = strategy.map(_semantic)

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        if time.monotonic() > deadline:
            raise _BudgetSpent
        try:
            case.call_and_validate(base_url=gateway.url, headers=AUTH, checks=checks, timeout=30)
        except (AssertionError, BaseExceptionGroup) as exc:  # FailureGroup: report them all
            failures.append(f"{case.method} {case.path} ({mode.value}): {exc}"[:2000])
        except requests.ConnectionError as exc:  # the gateway died, or was stopped from outside
            assert gateway.process is not None
            status = gateway.process.poll()
            failures.append(
                f"{case.method} {case.path} ({mode.value}): gateway unreachable "
                f"(exit status {status}): {exc}\n{gateway.log()[-3000:]}"
            )
            raise _BudgetSpent from None

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to negate (an operation without parameters or body)
    except _BudgetSpent:
        pass  # this operation's share of the time is used up
    return failures


@pytest.mark.timeout(BUDGET_S + 300)
def test_no_input_reaches_a_server_error(api_schema: Any, fuzz_gateway: Gateway) -> None:
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Chat and feedback first, so a short budget still covers them fully.
    operations.sort(key=lambda op: op.path not in CONTRACT_CHECKED)
    pairs = [(op, mode) for op in operations for mode in GenerationMode]
    end = time.monotonic() + BUDGET_S
    for i, (operation, mode) in enumerate(pairs):
        # Each pair gets a fair share of what is left of the budget.
        share = (end - time.monotonic()) / (len(pairs) - i)
        failures += _fuzz(operation, mode, fuzz_gateway, time.monotonic() + share)
    print(f"fuzzed {len(pairs)} operation/mode pairs; {len(failures)} failures")
    assert not failures, "\n\n".join(failures[:40]) + f"\n({len(failures)} failures)"
