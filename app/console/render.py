"""Template rendering for console pages: one MiniJinja environment, HTML-escaped always."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import minijinja
from litestar import Response

TEMPLATES = Path(__file__).parent / "templates"

# 'self' only: the console loads nothing from elsewhere, and inline script is never needed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _load(name: str) -> str | None:
    path = (TEMPLATES / name).resolve()
    if TEMPLATES.resolve() not in path.parents or not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


_environment = minijinja.Environment(loader=_load, auto_escape_callback=lambda _name: "html")
_environment.trim_blocks = True
_environment.lstrip_blocks = True


def render(template: str, **context: Any) -> str:
    return str(_environment.render_template(template, **context))


def page(template: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(
        render(template, **context),
        status_code=status,
        media_type="text/html",
        headers=SECURITY_HEADERS,
    )
