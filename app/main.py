"""The app factory: wires settings, config, providers, recorder and routes. Nothing else."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from functools import partial

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from app import __version__
from app.api.admin import ConfigAdminController, KeysController
from app.api.admin_sql import admin_sql
from app.api.bodies import BODY_DEPENDENCY
from app.api.campaigns import campaign_results, campaign_timeline
from app.api.chat import (
    CHAT_BODY,
    chat_completions,
    document_chat_endpoint,
    tir_chat_completions,
)
from app.api.datasets import DatasetsController
from app.api.embeddings import EMBEDDINGS_BODY, create_embeddings
from app.api.errors import EXCEPTION_HANDLERS
from app.api.evaluations import EvaluationsController
from app.api.feedback import submit_feedback
from app.api.health import health, ready
from app.api.metrics import count_requests, metrics
from app.api.models import list_models, retrieve_model
from app.api.openapi import document_request_bodies
from app.api.responses import RESPONSES_BODY, create_response
from app.api.rsgi import RsgiGateway
from app.api.security import PRINCIPAL_DEPENDENCY
from app.api.services import SERVICE_DEPENDENCIES, Services, install
from app.api.spend import admin_spend
from app.auth.budget import BudgetRecorder
from app.auth.service import AuthService
from app.console.context import ConsoleContext
from app.console.memo import ttl_memo
from app.console.routes import console_router, install_console
from app.console.session import ConsoleSessions
from app.datasets.service import DatasetService
from app.evaluations.service import EvaluationService
from app.experiments.adaptive import AdaptiveCampaigns
from app.experiments.results import CampaignResultsService
from app.feedback.service import FeedbackService
from app.inference.caching import ResponseCache
from app.inference.embeddings import EmbeddingsService
from app.inference.metrics import InferenceMetrics, MeteredRecorder
from app.inference.responses_service import ResponsesService, TurnLookup
from app.inference.service import InferenceService
from app.logs import configure_logging
from app.providers.http import open_pool
from app.providers.registry import Providers
from app.readiness import Readiness
from app.routing.adaptive import LiveCampaigns, retained_campaign_ids, stored_campaign_ids
from app.runtime.admin import ConfigAdmin, promote_winner
from app.runtime.reload import LiveConfig
from app.runtime.retention import RetentionPruner
from app.runtime.sticky import StickySync
from app.settings import Settings
from app.store.clickhouse.datasets import DatasetStore
from app.store.clickhouse.evaluations import EvaluationStore
from app.store.clickhouse.history import LoggedTurn, logged_turn
from app.store.recorder import ClickHouseRecorder, open_recorder
from app.store.response_cache import cache_store_from_settings
from app.tracing import tracing_from_settings

log = logging.getLogger("switchyard")


def console_context(
    services: Services, live: LiveConfig, recorder: ClickHouseRecorder
) -> ConsoleContext:
    """The console's services: the same objects the API routes use."""
    campaigns, feedback = services.campaigns, services.feedback
    return ConsoleContext(
        sessions=ConsoleSessions(live.sessions, services.auth.principal_by_id),
        auth=services.auth,
        config=services.config_admin,
        keys=live.keys,
        run_sql=recorder.sql,
        refresh=live.refresh,
        results=ttl_memo(campaigns.results),
        timeline=ttl_memo(
            lambda key, metric, function: campaigns.timeline(key, metric, function, "hour")
        ),
        rows=recorder.reader.rows,
        submit_feedback=lambda request, key_id: feedback.submit(request, api_key_id=key_id),
        spend=recorder.spend,
        live=services.inference.config,
        breakers=services.inference.providers.breakers,
        datasets=services.datasets,
        evaluations=services.evaluations,
    )


def turn_lookup(settings: Settings, recorder: ClickHouseRecorder) -> TurnLookup:
    """``previous_response_id`` reads: the inference log, waiting for a queued row a while."""
    wait_s = 3 * settings.write_interval_s + 2

    def lookup(response_id: str) -> Awaitable[LoggedTurn | None]:
        return logged_turn(recorder.reader, recorder.recent, response_id, wait_s=wait_s)

    return lookup


def freeze_startup_objects() -> None:
    """Move everything alive after startup (modules, the app, the config, the engines) out of
    the garbage collector's reach: they live as long as the process, and each full collection
    used to scan all ~250,000 of them, pausing requests for 170-240 ms under load
    (docs/performance.md, "Garbage collection pauses"). Objects made later are collected as
    before; shutdown unfreezes them."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = open_pool(settings.http_client)
        readiness = Readiness()
        inference_metrics = InferenceMetrics()
        auth = AuthService(require_auth=settings.require_auth, admin_token=settings.admin_token)
        campaign_state = LiveCampaigns()
        live = LiveConfig(settings, auth, campaign_state)
        config = await live.start()
        readiness.add("config_store", live.probe)
        if not auth.enabled:
            log.warning(
                "AUTH IS OFF: no API key exists, so anyone who can reach this port may use it. "
                "Create one with `switchyard keys create --admin`, or set SWITCHYARD_REQUIRE_AUTH=true."
            )
        tracing = tracing_from_settings(settings)
        async with open_recorder(settings) as recorder:
            readiness.add("clickhouse", recorder.probe)
            metered = MeteredRecorder(BudgetRecorder(recorder, auth.budgets), inference_metrics)
            providers = Providers(pool)
            cache = ResponseCache(cache_store_from_settings(settings), settings.cache_ttl_s)
            inference = InferenceService(config, metered, providers, cache)
            datasets = DatasetService(DatasetStore(recorder.reader), lambda: config.current)
            evaluations = EvaluationService(
                EvaluationStore(recorder.reader),
                datasets,
                inference,
                lambda: config.current,
                stale_s=settings.eval_stale_s,
            )
            services = Services(
                settings=settings,
                auth=auth,
                live=live,
                config_admin=ConfigAdmin(live),
                readiness=readiness,
                recorder=recorder,
                inference=inference,
                feedback=FeedbackService(config, recorder, recorder),
                campaigns=CampaignResultsService(config, recorder.reader.rows),
                responses=ResponsesService(inference, turn_lookup(settings, recorder)),
                embeddings=EmbeddingsService(config, metered, providers),
                limits=settings.input_limits,
                datasets=datasets,
                evaluations=evaluations,
                tracing=tracing,
            )
            install(app.state, services)
            install_console(app.state, console_context(services, live, recorder))
            sticky = StickySync(
                live.assignments, campaign_state, lambda: stored_campaign_ids(config.current)
            )
            retention = RetentionPruner(
                live.assignments,
                live.spend,
                lambda: retained_campaign_ids(config.current),
                sticky_days=settings.sticky_retention_days,
                spend_days=settings.spend_retention_days,
            )
            adaptive = AdaptiveCampaigns(
                config,
                recorder.reader.rows,
                campaign_state,
                partial(promote_winner, services.config_admin),
            )
            await sticky.start()
            await adaptive.start()
            retention.start()
            freeze_startup_objects()
            log.info("serving config version %d", config.current.version)
            try:
                yield
            finally:
                await evaluations.close()
                await retention.stop()
                await adaptive.stop()
                await sticky.stop()
                await live.stop()
                await pool.close()
                await cache.close()
                if tracing is not None:  # exports what is queued: seconds at most, off the loop
                    await asyncio.to_thread(tracing.close)
                gc.unfreeze()  # an app made in-process (tests, embedding) lets its objects go

    app = Litestar(
        route_handlers=[
            chat_completions,
            tir_chat_completions,
            list_models,
            retrieve_model,
            create_response,
            create_embeddings,
            submit_feedback,
            campaign_results,
            campaign_timeline,
            ConfigAdminController,
            KeysController,
            admin_sql,
            admin_spend,
            DatasetsController,
            EvaluationsController,
            health,
            ready,
            metrics,
            console_router(),
        ],
        dependencies={**SERVICE_DEPENDENCIES, **PRINCIPAL_DEPENDENCY, **BODY_DEPENDENCY},
        middleware=[count_requests],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Switchyard",
            version=__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        debug=False,
    )
    document_chat_endpoint(app)
    document_request_bodies(app, {**CHAT_BODY, **RESPONSES_BODY, **EMBEDDINGS_BODY})
    return app


def create_rsgi_app(settings: Settings | None = None) -> RsgiGateway:
    """What ``serve`` runs by default: the same app, the chat endpoint over RSGI."""
    return RsgiGateway(create_app(settings))
