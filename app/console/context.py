"""The services console pages use, gathered once by the app factory and injected into every
console handler (Litestar dependency ``console``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.auth.service import AuthService
from app.config.holder import ConfigHolder
from app.console.session import ConsoleSessions
from app.datasets.service import DatasetService
from app.evaluations.service import EvaluationService
from app.feedback.schema import FeedbackRequest
from app.providers.breaker import BreakerBoard
from app.runtime.admin import ConfigAdmin
from app.store.clickhouse.query import SqlFormat
from app.store.clickhouse.spend import SpendReport
from app.store.sql.repos import KeyRepository

Rows = Callable[[str, dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]
RunSql = Callable[[str, SqlFormat], Awaitable[bytes]]
# (campaign key, metric or None for the campaign's own, function) -> a results document
CampaignQuery = Callable[[str, str | None, str | None], Awaitable[Any]]
# (group_by, from, to) -> the report of ``GET /admin/spend``
SpendQuery = Callable[[list[str], datetime | None, datetime | None], Awaitable[SpendReport]]


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    sessions: ConsoleSessions
    auth: AuthService
    config: ConfigAdmin
    keys: KeyRepository
    run_sql: RunSql
    refresh: Callable[[], Awaitable[None]]  # reload config and keys after a write
    results: CampaignQuery
    rows: Rows  # the gateway's own ClickHouse reads (not the read-only analyst session)
    submit_feedback: Callable[[FeedbackRequest, str], Awaitable[str]]  # (request, api key id)
    timeline: CampaignQuery
    spend: SpendQuery
    live: ConfigHolder  # the compiled snapshot requests are served from
    breakers: BreakerBoard  # this process's provider breakers
    datasets: DatasetService
    evaluations: EvaluationService
