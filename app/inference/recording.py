"""Builds the :class:`AttemptRecord` of every provider try and the :class:`InferenceRecord` of
the request, and hands the finished record to the recorder (:func:`record_inference`, the only
place that does).

Raw request and response bodies are kept only when the request asks for them
(``log_query_body`` / ``log_response_body``); docs/analytics.md ("`inferences` columns")
describes what is stored.
"""

from __future__ import annotations

from app.config.compile import Route
from app.ids import uuid7_str
from app.inference.outcome import Outcome
from app.inference.plan import Plan
from app.providers.base import ProviderError, now
from app.records import AttemptRecord, InferenceRecord, Recorder
from app.wire.response import Usage, encoder


def record_inference(
    recorder: Recorder, plan: Plan, outcome: Outcome, attempts: list[AttemptRecord]
) -> None:
    """Hand a finished inference to the recorder. One the request opted out of storing
    (``store: false``, dry runs) still spent money: when it did, a bare record marked
    ``stored=False`` goes through, for budgets only (docs/spend.md)."""
    record = inference_record(plan, outcome, attempts) if plan.store else None
    if plan.context.trace is not None:
        plan.context.trace.finish(record or inference_record(plan, outcome, attempts))
    if record is not None:
        recorder.record(record)
    elif outcome.cost:
        recorder.record(
            InferenceRecord(
                id=plan.inference_id,
                created_at=plan.context.created_at,
                config_version=plan.snapshot.version,
                function=plan.function or "",
                episode_id=plan.episode_id,
                api_key_id=plan.context.api_key_id,
                model=plan.model_name,
                served_model=served_model(plan, outcome.route),
                status=outcome.status,
                cost=outcome.cost,
                stored=False,
            )
        )


def served_model(plan: Plan, route: Route | None) -> str:
    """The configured model behind the request (docs/spend.md): the answering route's, else
    (nothing answered) the one the plan would have used."""
    chosen = route or (plan.routes[0] if plan.routes else None)
    return chosen.served_model if chosen else ""


def failed_attempt(
    plan: Plan, route: Route, wall: float, started: float, error: ProviderError
) -> AttemptRecord:
    record = _attempt(plan, route, wall, started, "error", error.raw_request, error.raw_response)
    record.error, record.http_status = error.message, error.status
    return record


def cancelled_attempt(plan: Plan, route: Route, wall: float, started: float) -> AttemptRecord:
    record = _attempt(plan, route, wall, started, "cancelled", b"", b"")
    record.error = "client disconnected"
    return record


def answered_attempt(
    plan: Plan,
    route: Route,
    wall: float,
    started: float,
    outcome: Outcome,
    raw_request: bytes,
    raw_response: bytes,
) -> AttemptRecord:
    """The try that answered (its stream may still have failed or been cancelled later)."""
    record = _attempt(plan, route, wall, started, outcome.status, raw_request, raw_response)
    record.error = outcome.error
    if outcome.first_token_at is not None:
        record.ttft_ms = (outcome.first_token_at - started) * 1000
    if outcome.usage is not None:
        record.prompt_tokens = outcome.usage.prompt_tokens
        record.completion_tokens = outcome.usage.completion_tokens
    record.cost = outcome.cost
    return record


def _attempt(
    plan: Plan,
    route: Route,
    wall: float,
    started: float,
    status: str,
    raw_request: bytes,
    raw_response: bytes,
) -> AttemptRecord:
    request = plan.request
    return AttemptRecord(
        id=uuid7_str(),
        inference_id=plan.inference_id,
        provider=route.provider_name,
        provider_type=route.provider_type,
        model=route.model,
        started_at=wall,
        latency_ms=(now() - started) * 1000,
        status=status,
        raw_request=raw_request.decode("utf-8", "replace") if request.log_query_body else "",
        raw_response=raw_response.decode("utf-8", "replace") if request.log_response_body else "",
    )


def inference_record(
    plan: Plan, outcome: Outcome, attempts: list[AttemptRecord]
) -> InferenceRecord:
    request = plan.request
    assignment = plan.assignment
    usage = outcome.usage or Usage()
    started = outcome.started
    ended = outcome.ended or now()
    route = outcome.route
    return InferenceRecord(
        id=plan.inference_id,
        created_at=plan.context.created_at,
        config_version=plan.snapshot.version,
        function=plan.function or "",
        variant=plan.variant or "",
        campaign=plan.campaign or "",
        sticky_unit=(assignment.unit or "") if assignment else "",
        session_id=plan.session_id or "",
        episode_id=plan.episode_id,
        user=request.user or "",
        api_key_id=plan.context.api_key_id,
        model=plan.model_name,
        served_model=served_model(plan, route),
        provider=route.provider_name if route else "",
        provider_model=route.model if route else "",
        status=outcome.status,
        error=outcome.error,
        input_messages=encoder.encode(request.messages).decode() if request.log_query_body else "",
        system_prompt=plan.system_prompt,
        system_prompt_args=encoder.encode(request.system_prompt_args).decode()
        if request.system_prompt_args
        else "",
        params=encoder.encode(plan.provider_request.params).decode(),
        output=encoder.encode(outcome.choices).decode()
        if request.log_response_body and outcome.choices
        else "",
        finish_reason=next((c.finish_reason for c in outcome.choices if c.finish_reason), "") or "",
        labels=plan.labels,
        tags=plan.tags,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        usage_estimated=outcome.usage_estimated,
        cost=outcome.cost,
        cached=outcome.cached,
        cost_saved=outcome.cost_saved,
        ttft_ms=(outcome.first_token_at - started) * 1000
        if started is not None and outcome.first_token_at
        else None,
        latency_ms=(ended - plan.context.received_at) * 1000,
        queue_ms=((started if started is not None else ended) - plan.context.received_at) * 1000,
        streamed=request.stream,
        completion_ids=outcome.completion_ids or [plan.inference_id],
        parent_completion_ids=plan.parent_completion_ids,
        attempts=attempts,
    )
