"""The live config of one gateway process: loaded from the SQL store, kept fresh, swapped
atomically.

Freshness: PostgreSQL ``LISTEN/NOTIFY`` wakes the reloader the moment another process writes
a version; a poll every second covers SQLite, missed notifications and reconnects. Each
refresh also reloads the API-key cache and flushes keys' last-used times
(:mod:`app.auth.refresh`). If the database is unreachable the process keeps serving the
snapshot and keys it has, and says so in ``/ready`` (see docs/admin.md, "When the database is
down").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.auth.refresh import KeyCacheRefresh
from app.auth.service import AuthService
from app.config.compile import Snapshot, build_snapshot
from app.config.functions import CampaignState
from app.config.holder import ConfigHolder
from app.config.problems import ConfigError
from app.config.source import directory_document
from app.settings import Settings
from app.store.sql.assignments import AssignmentRepository
from app.store.sql.engine import create_engine, is_postgres, session_factory
from app.store.sql.migrate import upgrade_async
from app.store.sql.repos import (
    NOTIFY_CHANNEL,
    AuditRepository,
    ConfigRepository,
    KeyRepository,
    SpendRepository,
    StaleVersion,
    VersionInfo,
)
from app.store.sql.sessions import SessionRepository

log = logging.getLogger("switchyard.config")

POLL_INTERVAL_S = 1.0
BOOTSTRAP_AUTHOR = "bootstrap"


class LiveConfig:
    def __init__(
        self, settings: Settings, auth: AuthService, campaign_state: CampaignState | None = None
    ) -> None:
        self.settings = settings
        self.campaign_state = campaign_state  # shared by every snapshot this process builds
        self.database_url = settings.resolved_database_url
        self.engine = create_engine(self.database_url)
        sessions = session_factory(self.engine)
        self.versions = ConfigRepository(sessions, notify=is_postgres(self.database_url))
        self.keys = KeyRepository(sessions)
        self.spend = SpendRepository(sessions)
        self.key_cache = KeyCacheRefresh(auth, self.keys, self.spend)
        self.audit = AuditRepository(sessions)
        self.sessions = SessionRepository(sessions)
        self.assignments = AssignmentRepository(sessions)  # adaptive campaigns' first assignments
        self.holder: ConfigHolder | None = None
        self.database_ok = False
        self.database_error = "not connected yet"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._migrated = False

    async def start(self) -> ConfigHolder:
        try:
            snapshot = await self._load_from_store()
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - database down: serve the files until it is back
            self.mark_down(exc)
            log.warning(
                "config store unreachable (%s); serving %s until it is back",
                exc,
                self.settings.config_dir,
            )
            _, snapshot = directory_document(self.settings.config_dir)
            snapshot = dataclasses.replace(snapshot, campaign_state=self.campaign_state)
        self.holder = ConfigHolder(snapshot)
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="config-poll"))
        if is_postgres(self.database_url):
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="config-listen"))
        return self.holder

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.key_cache.flush_usage()
        await self.engine.dispose()

    async def refresh(self) -> None:
        """Pick up a newer version and the current keys; raises if the database is unreachable."""
        assert self.holder is not None
        if not self._migrated:
            snapshot = await self._load_from_store()
            self.holder.swap(snapshot)
        latest = await self.versions.latest_version()
        if latest > self.holder.current.version:
            stored = await self.versions.get(latest)
            if stored is not None:
                await self._swap_to(latest, stored[1])
        await self.key_cache.refresh()
        self.mark_up()

    async def probe(self) -> tuple[bool, str]:
        if self.database_ok:
            return (
                True,
                f"reachable; serving version {self.holder.current.version if self.holder else '?'}",
            )
        return False, f"unreachable ({self.database_error}); serving the last loaded config"

    async def _load_from_store(self) -> Snapshot:
        await upgrade_async(self.database_url)
        self._migrated = True
        stored = await self.versions.latest() or await self._bootstrap()
        info, document = stored
        snapshot = await self._compile(document, info.version)
        await self.key_cache.reload()
        self.mark_up()
        return snapshot

    async def _bootstrap(self) -> tuple[VersionInfo, dict[str, Any]]:
        """Apply the config directory to an empty store as version 1. Workers starting together
        race for it: the one that loses reads the winner's version."""
        document, _ = directory_document(self.settings.config_dir)
        try:
            info = await self.versions.create(
                document,
                parent=0,
                author=BOOTSTRAP_AUTHOR,
                target="config",
                comment=f"initial config from {self.settings.config_dir}",
            )
        except StaleVersion:
            stored = await self.versions.latest()
            assert stored is not None, "a version exists once create() saw one"
            return stored
        log.info(
            "config store was empty: applied %s as version %d",
            self.settings.config_dir,
            info.version,
        )
        return info, document

    async def _compile(self, document: dict[str, Any], version: int) -> Snapshot:
        return await asyncio.to_thread(
            partial(build_snapshot, version=version, campaign_state=self.campaign_state), document
        )

    async def _swap_to(self, version: int, document: dict[str, Any]) -> None:
        assert self.holder is not None
        try:
            snapshot = await self._compile(document, version)
        except ConfigError as exc:  # written by an older or newer gateway with other rules
            log.error(
                "config version %d does not compile here; keeping version %d:\n%s",
                version,
                self.holder.current.version,
                exc,
            )
            return
        self.holder.swap(snapshot)
        log.info("now serving config version %d", version)

    async def _poll_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_S)
            self._wake.clear()
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported in /ready; the next tick retries
                self.mark_down(exc)

    async def _listen_loop(self) -> None:
        dsn = (
            make_url(self.database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        while True:
            try:
                connection = await asyncpg.connect(dsn, timeout=3)
                try:
                    await connection.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                    # asyncpg has nothing to await for a dropped connection; a check every 5 s
                    # is enough because the poll loop covers the gap.
                    while not connection.is_closed():  # noqa: ASYNC110
                        await asyncio.sleep(POLL_INTERVAL_S * 5)
                finally:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect; the poll loop covers the gap
                await asyncio.sleep(POLL_INTERVAL_S)

    def mark_up(self) -> None:
        if not self.database_ok:
            log.info("config store reachable")
        self.database_ok, self.database_error = True, ""

    def mark_down(self, exc: Exception) -> None:
        if self.database_ok:
            log.warning("config store unreachable: %s", exc)
        self.database_ok, self.database_error = False, f"{type(exc).__name__}: {exc}"[:300]
