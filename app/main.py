"""The app factory: wires settings, config, providers, recorder and routes. Nothing else."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from app import __version__
from app.api.chat import ChatController
from app.api.errors import EXCEPTION_HANDLERS
from app.api.health import health, ready
from app.config.holder import ConfigHolder
from app.config.source import load_initial_snapshot
from app.inference.service import InferenceService
from app.providers.http import HttpPool
from app.readiness import Readiness
from app.settings import Settings
from app.store.recorder import open_recorder

log = logging.getLogger("switchyard")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = HttpPool()
        readiness = Readiness()
        snapshot = load_initial_snapshot(settings, pool)
        config = ConfigHolder(snapshot)

        async def config_probe() -> tuple[bool, str]:
            return True, f"version {config.current.version}"

        readiness.add("config", config_probe)
        async with open_recorder(settings, readiness) as recorder:
            app.state.settings = settings
            app.state.config = config
            app.state.readiness = readiness
            app.state.recorder = recorder
            app.state.inference = InferenceService(config, recorder)
            log.info("serving config version %s with %d functions", snapshot.version, len(snapshot.functions))
            try:
                yield
            finally:
                await pool.close()

    return Litestar(
        route_handlers=[ChatController, health, ready],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Switchyard",
            version=__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        debug=False,
    )
