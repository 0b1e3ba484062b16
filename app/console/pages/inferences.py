"""Inferences: the log in ClickHouse with filters and keyset paging, one inference in full
(messages, rendered system prompt, output, attempts, timings, feedback), and a form that adds
feedback through the same service as ``POST /v1/feedback``."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.console import inference_queries as q
from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError, NotFound
from app.feedback.schema import FeedbackRequest


@get("/inferences", include_in_schema=False)
async def inferences(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    filters = q.Filters(**{k: request.query_params.get(k, "").strip() for k in q.Filters.__slots__})
    try:
        sql, params = q.list_query(filters)
    except ValueError as exc:
        return page(
            "inferences.html",
            400,
            user=user,
            section="Inferences",
            filters=asdict(filters),
            rows=[],
            error=str(exc),
            statuses=q.STATUSES,
        )
    rows = await console.rows(sql, params)
    more = len(rows) > q.PAGE_SIZE
    rows = rows[: q.PAGE_SIZE]
    next_url = None
    if more:
        last = rows[-1]
        cursor = {**asdict(filters), "before": f"{last[2]}_{last[0]}"}
        next_url = "/ui/inferences?" + urlencode({k: v for k, v in cursor.items() if v})
    return page(
        "inferences.html",
        user=user,
        section="Inferences",
        filters=asdict(filters),
        rows=[_list_row(r) for r in rows],
        next_url=next_url,
        first_url="/ui/inferences?"
        + urlencode({k: v for k, v in asdict(filters).items() if v and k != "before"}),
        statuses=q.STATUSES,
    )


@get("/inferences/{inference_id:str}", include_in_schema=False)
async def inference(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, inference_id: str
) -> Response[Any]:
    detail = await _detail(console, inference_id)
    attempts = [
        dict(zip(q.ATTEMPT_FIELDS, r, strict=True))
        for r in await console.rows(q.ATTEMPTS, {"id": inference_id})
    ]
    feedback = [
        dict(zip(q.FEEDBACK_FIELDS, r, strict=True))
        for r in await console.rows(
            q.FEEDBACK, {"id": inference_id, "episode": detail["episode_id"]}
        )
    ]
    return page(
        "inference.html",
        user=user,
        section="Inferences",
        i=detail,
        attempts=attempts,
        feedback=feedback,
        metrics=await _feedback_metrics(console),
        message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )


# The built-in metric a reviewer's free text is recorded under.
_COMMENT = "comment"


@post("/inferences/{inference_id:str}/feedback", include_in_schema=False)
async def add_feedback(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, inference_id: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    metric = str(form.get("metric") or "")
    raw_value = str(form.get("value") or "")
    comment = str(form.get("comment") or "").strip() or None
    back = f"/ui/inferences/{quote(inference_id)}"
    try:
        if comment and not raw_value.strip():
            # Only the Comment field was filled (the metric list still showing its first entry):
            # that text is the feedback, under the built-in comment metric.
            metric, raw_value = _COMMENT, comment
        value = _feedback_value(await _metric_type(console, metric), raw_value)
        await console.submit_feedback(
            FeedbackRequest(
                metric_name=metric,
                value=value,
                inference_id=uuid.UUID(inference_id),
                comment=comment,
                tags={"source": "console", "reviewer": user.name},
            ),
            user.key_id,
        )
    except (GatewayError, ValueError) as exc:
        text = exc.message if isinstance(exc, GatewayError) else str(exc)
        return Redirect(f"{back}?error={quote('Feedback not saved: ' + text)}", status_code=303)
    return Redirect(f"{back}?message={quote(f'Feedback on {metric} recorded.')}", status_code=303)


async def _detail(console: ConsoleContext, inference_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(inference_id)
    except ValueError:
        raise NotFound(f"'{inference_id}' is not an inference id", param="inference_id") from None
    found = await console.rows(q.DETAIL, {"id": inference_id})
    if not found:
        raise NotFound(
            f"No inference {inference_id} (it may still be in the write buffer; reload in a second)",
            param="inference_id",
        )
    detail = dict(zip(q.DETAIL_FIELDS, found[0], strict=True))
    for field in ("input_messages", "system_prompt_args", "params", "output"):
        detail[field + "_pretty"] = _pretty(detail[field])
    return detail


async def _feedback_metrics(console: ConsoleContext) -> list[dict[str, str]]:
    _, document = await console.config.current()
    metrics = [
        {"name": n, "type": m.get("type", ""), "level": m.get("level", "inference")}
        for n, m in document.get("metrics", {}).items()
    ]
    builtin = [
        {"name": "comment", "type": "comment", "level": "inference"},
        {"name": "demonstration", "type": "demonstration", "level": "inference"},
    ]
    return [m for m in metrics + builtin if m["level"] == "inference" and m["type"] != "preference"]


async def _metric_type(console: ConsoleContext, metric: str) -> str:
    for known in await _feedback_metrics(console):
        if known["name"] == metric:
            return known["type"]
    raise ValueError(f"choose a metric (got '{metric}')")


def _feedback_value(metric_type: str, raw: str) -> Any:
    """A form's text as the value the metric's type needs (thumbs, score, text)."""
    text = raw.strip()
    if metric_type == "boolean":
        if text not in ("true", "false"):
            raise ValueError("choose thumbs up or thumbs down")
        return text == "true"
    if metric_type == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"a score must be a number, got '{text}'") from None
    if not text:
        raise ValueError("the text is empty")
    return text  # comment, or a demonstration's corrected answer


def _list_row(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [
        "id",
        "created_at",
        "millis",
        "function",
        "variant",
        "campaign",
        "model",
        "provider",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "output",
        "labels",
    ]
    return dict(zip(keys, row, strict=True))


def _pretty(text: str) -> str:
    if not text:
        return ""
    try:
        return json.dumps(msgspec.json.decode(text), indent=2, ensure_ascii=False)
    except msgspec.DecodeError:
        return text


HANDLERS = [inferences, inference, add_feedback]
