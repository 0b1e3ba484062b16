"""The services the routes use, as typed Litestar dependencies.

The lifespan in :mod:`app.main` builds one :class:`Services` per process and stores it with
:func:`install`; handlers declare what they need by name and type (``feedback:
FeedbackService``) instead of reading an untyped ``app.state`` bag. The raw chat handler reads
the same object through :func:`services_of`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from litestar.datastructures import State
from litestar.di import Provide

from app.auth.service import AuthService
from app.datasets.service import DatasetService
from app.evaluations.service import EvaluationService
from app.experiments.results import CampaignResultsService
from app.feedback.service import FeedbackService
from app.inference.embeddings import EmbeddingsService
from app.inference.responses_service import ResponsesService
from app.inference.service import InferenceService
from app.readiness import Readiness
from app.runtime.admin import ConfigAdmin
from app.runtime.reload import LiveConfig
from app.settings import Settings
from app.store.recorder import ClickHouseRecorder
from app.tracing import Tracing
from app.wire.limits import InputLimits

T = TypeVar("T")
_KEY = "services"


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    auth: AuthService
    live: LiveConfig
    config_admin: ConfigAdmin
    readiness: Readiness
    recorder: ClickHouseRecorder
    inference: InferenceService
    feedback: FeedbackService
    campaigns: CampaignResultsService
    responses: ResponsesService
    embeddings: EmbeddingsService
    limits: InputLimits  # settings.input_limits, built once
    datasets: DatasetService
    evaluations: EvaluationService
    tracing: Tracing | None = None  # None unless SWITCHYARD_OTLP_ENDPOINT is set


def install(state: State, services: Services) -> None:
    state[_KEY] = services


def services_of(state: State) -> Services:
    services: Services = state[_KEY]
    return services


def _provide(pick: Callable[[Services], T]) -> Provide:
    def provide(state: State) -> T:
        return pick(services_of(state))

    return Provide(provide, sync_to_thread=False)


# One per service, named as handlers name their parameters; Litestar checks the declared type
# on injection (a mismatch is a 500 at once, not an AttributeError later).
SERVICE_DEPENDENCIES: dict[str, Provide] = {
    "settings": _provide(lambda s: s.settings),
    "auth": _provide(lambda s: s.auth),
    "live": _provide(lambda s: s.live),
    "config_admin": _provide(lambda s: s.config_admin),
    "readiness": _provide(lambda s: s.readiness),
    "recorder": _provide(lambda s: s.recorder),
    "inference": _provide(lambda s: s.inference),
    "feedback": _provide(lambda s: s.feedback),
    "campaigns": _provide(lambda s: s.campaigns),
    "responses": _provide(lambda s: s.responses),
    "embeddings": _provide(lambda s: s.embeddings),
    "limits": _provide(lambda s: s.limits),
    "datasets": _provide(lambda s: s.datasets),
    "evaluations": _provide(lambda s: s.evaluations),
}
