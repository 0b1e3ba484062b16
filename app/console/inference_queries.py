"""The console's reads of the inference log: a filtered list paged by keyset, and one
inference with its attempts and feedback.

Keyset paging (``(created_at, id) < cursor``) costs the same on page 500 as on page 1, where
OFFSET would read and drop every earlier row. The detail is a point read through
``inference_by_id`` (docs/analytics.md); attempts and feedback use their bloom-filter indexes.
All values are bound as ClickHouse query parameters, never spliced into the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

PAGE_SIZE = 50
STATUSES = ("ok", "error", "cancelled")

LIST_COLUMNS = """
    toString(id), formatDateTime(created_at, '%Y-%m-%d %H:%i:%S.%f', 'UTC'),
    toUnixTimestamp64Milli(created_at), function, variant, campaign, model, provider,
    toString(status), prompt_tokens, completion_tokens, toDecimal32(latency_ms, 1),
    substring(if(JSONExtractString(output, 1, 'message', 'content') != '',
                 JSONExtractString(output, 1, 'message', 'content'), output), 1, 160),
    labels
"""

DETAIL = """
SELECT toString(id), formatDateTime(created_at, '%Y-%m-%d %H:%i:%S.%f', 'UTC'), function,
       variant, campaign, sticky_unit, toString(session_id), toString(episode_id), user,
       api_key_id, model, provider, provider_model, toString(status), error, input_messages,
       system_prompt, system_prompt_args, params, output, finish_reason, labels, tags,
       prompt_tokens, completion_tokens, usage_estimated, ttft_ms, latency_ms, queue_ms,
       streamed, arrayMap(c -> toString(c), completion_ids), config_version
FROM inferences
WHERE (function, variant, created_at) IN (
    SELECT function, variant, created_at FROM inference_by_id
    WHERE id = {id:UUID} AND kind = 'inference'
) AND id = {id:UUID}
LIMIT 1
"""
DETAIL_FIELDS = [
    "id",
    "created_at",
    "function",
    "variant",
    "campaign",
    "sticky_unit",
    "session_id",
    "episode_id",
    "user",
    "api_key_id",
    "model",
    "provider",
    "provider_model",
    "status",
    "error",
    "input_messages",
    "system_prompt",
    "system_prompt_args",
    "params",
    "output",
    "finish_reason",
    "labels",
    "tags",
    "prompt_tokens",
    "completion_tokens",
    "usage_estimated",
    "ttft_ms",
    "latency_ms",
    "queue_ms",
    "streamed",
    "completion_ids",
    "config_version",
]

ATTEMPTS = """
SELECT attempt, provider, provider_type, model, toString(status), error, http_status,
       toDecimal32(latency_ms, 1), ttft_ms, prompt_tokens, completion_tokens
FROM model_inferences
WHERE inference_id = {id:UUID}
ORDER BY attempt
"""
ATTEMPT_FIELDS = [
    "attempt",
    "provider",
    "provider_type",
    "model",
    "status",
    "error",
    "http_status",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
]

FEEDBACK = """
SELECT formatDateTime(created_at, '%Y-%m-%d %H:%i:%S', 'UTC'), metric, type, value, value_text,
       comment, tags, target_level
FROM feedback
WHERE inference_id = {id:UUID} OR target_id = {episode:UUID}
ORDER BY created_at
"""
FEEDBACK_FIELDS = [
    "created_at",
    "metric",
    "type",
    "value",
    "value_text",
    "comment",
    "tags",
    "target_level",
]


@dataclass(frozen=True, slots=True)
class Filters:
    function: str = ""
    variant: str = ""
    campaign: str = ""
    status: str = ""
    label: str = ""  # key=value
    since: str = ""  # datetime-local, UTC
    until: str = ""
    before: str = ""  # keyset cursor: "<unix ms>_<uuid>"

    def where(self) -> tuple[str, dict[str, Any]]:
        """The WHERE clause and its parameters; unknown or malformed filters raise ValueError."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for column in ("function", "variant", "campaign"):
            value = getattr(self, column)
            if value:
                clauses.append(f"{column} = {{{column}:String}}")
                params[column] = value
        if self.status:
            if self.status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}")
            clauses.append("status = {status:String}")
            params["status"] = self.status
        if self.label:
            key, sep, value = self.label.partition("=")
            if not sep or not key:
                raise ValueError("label filter must look like key=value")
            clauses.append("labels[{label_key:String}] = {label_value:String}")
            params.update(label_key=key.strip(), label_value=value.strip())
        for name, op in (("since", ">="), ("until", "<")):
            text = getattr(self, name)
            if text:
                params[name] = _parse_time(text, name)
                clauses.append(f"created_at {op} {{{name}:DateTime64(3, 'UTC')}}")
        if self.before:
            millis, _, inference_id = self.before.partition("_")
            if not millis.isdigit() or len(inference_id) != 36:
                raise ValueError("the page cursor is malformed")
            clauses.append(
                "(toUnixTimestamp64Milli(created_at), id) < ({cursor_ms:Int64}, {cursor_id:UUID})"
            )
            params.update(cursor_ms=int(millis), cursor_id=inference_id)
        return (" AND ".join(clauses) or "1"), params


def list_query(filters: Filters) -> tuple[str, dict[str, Any]]:
    where, params = filters.where()
    sql = (
        f"SELECT {LIST_COLUMNS} FROM inferences WHERE {where} "
        f"ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE + 1}"
    )
    return sql, params


def _parse_time(text: str, name: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date and time like 2026-11-27T10:00") from None
    return moment.strftime("%Y-%m-%d %H:%M:%S.000")
