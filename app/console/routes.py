"""The console's Litestar router: pages under ``/ui``, static assets, sessions and CSRF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from app.console.context import ConsoleContext
from app.console.pages import (
    authoring,
    campaigns,
    datasets,
    evaluations,
    functions,
    inferences,
    keys,
    providers,
    signin,
    spend,
    sql,
    versions,
)
from app.console.render import page
from app.console.session import ConsoleUser, CsrfFailed, SignInRequired, to_sign_in
from app.errors import GatewayError

STATIC = Path(__file__).parent / "static"


_KEY = "console"


def install_console(state: State, context: ConsoleContext) -> None:
    """Called by the app's lifespan, which builds the services (they need the running loop)."""
    state[_KEY] = context


def provide_console(state: State) -> ConsoleContext:
    console: ConsoleContext = state[_KEY]
    return console


async def provide_user(request: Request[Any, Any, Any], console: ConsoleContext) -> ConsoleUser:
    return await console.sessions.user(request)


def console_router() -> Router:
    return Router(
        path="/ui",
        route_handlers=[
            *signin.HANDLERS,
            *authoring.HANDLERS,
            *functions.HANDLERS,
            *campaigns.HANDLERS,
            *inferences.HANDLERS,
            *datasets.HANDLERS,
            *evaluations.HANDLERS,
            *sql.HANDLERS,
            *versions.HANDLERS,
            *keys.HANDLERS,
            *spend.HANDLERS,
            *providers.HANDLERS,
            create_static_files_router(
                path="/static", directories=[STATIC], include_in_schema=False
            ),
        ],
        dependencies={
            "console": Provide(provide_console, sync_to_thread=False),
            "user": Provide(provide_user),
        },
        exception_handlers={
            SignInRequired: _sign_in_required,
            CsrfFailed: _csrf_failed,
            GatewayError: _gateway_error,
        },
        include_in_schema=False,
    )


def _sign_in_required(_: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    return to_sign_in(exc.next_path)


def _csrf_failed(_: Request[Any, Any, Any], __: CsrfFailed) -> Response[Any]:
    return page(
        "error.html",
        403,
        user=None,
        section=None,
        error="This form is missing its security token or it has expired. Go back, reload the page and try again.",
    )


def _gateway_error(_: Request[Any, Any, Any], exc: GatewayError) -> Response[Any]:
    return page("error.html", exc.status, user=None, section=None, error=exc.message)
