"""Tables of the config store. Alembic migrations in ``migrations/versions`` must match these
(``alembic check`` runs in the tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: sa.JSON, list[str]: sa.JSON}


class ConfigVersion(Base):
    """One immutable, complete config document. ``parent`` is unique: two writers that both
    start from version N cannot both commit, which is how a stale ``If-Match`` becomes 409."""

    __tablename__ = "config_versions"

    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    parent: Mapped[int] = mapped_column(sa.Integer, unique=True)
    document: Mapped[dict[str, Any]]
    author: Mapped[str] = mapped_column(sa.String(200))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(20), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(10))
    functions: Mapped[list[str] | None] = mapped_column(sa.JSON, nullable=True)
    rpm_limit: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    budget_usd: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    budget_period: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(100))
    target: Mapped[str] = mapped_column(sa.String(300), default="")
    detail: Mapped[dict[str, Any]]


class ConsoleSession(Base):
    """A signed-in console browser. Only the SHA-256 of the cookie's token is stored, like keys;
    a session lives in the store (not in one process) so sign-out ends it on every worker."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class SpendCounter(Base):
    """Spend in USD of one API key or function in one budget bucket (``day:2026-11-27``,
    ``month:2026-11`` or ``total``), summed over every gateway process. Each process adds its
    spend in small batches (an upsert adding to ``spent_usd``) and reads the totals back
    (docs/spend.md, "Budgets")."""

    __tablename__ = "spend_counters"

    scope: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # key | function
    subject: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    spent_usd: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class StickyAssignment(Base):
    """The variant a unit first got in an adaptive campaign (docs/experiments.md,
    "Stickiness"). Written insert-if-absent, so the first replica to store a unit wins; ``id``
    orders rows for the incremental pull every replica runs."""

    __tablename__ = "sticky_assignments"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "unit", name="uq_sticky_campaign_unit"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(sa.String(100))
    unit: Mapped[str] = mapped_column(sa.String(300))
    variant: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
