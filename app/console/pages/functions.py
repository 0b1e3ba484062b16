"""Functions: every function with its variants and campaigns, and an editor for a function's
variants that saves one config version through the admin API's validation.

The editor carries the version it was opened on; saving on top of a newer version is refused
(the admin API's ``If-Match``), so a concurrent edit is never silently overwritten.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.console.context import ConsoleContext
from app.console.forms import VariantEdit, parse_variant_edits
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import Conflict, GatewayError, InvalidRequest, NotFound
from app.prompts.templates import TemplateProblem, compile_template


@get("/functions", include_in_schema=False)
async def functions(console: ConsoleContext, user: ConsoleUser) -> Response[Any]:
    info, document = await console.config.current()
    return page(
        "functions.html",
        user=user,
        section="Functions",
        version=info.version,
        functions=document.get("functions", {}),
    )


@get("/functions/{name:str}", include_in_schema=False)
async def function_editor(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    info, document = await console.config.current()
    function = _function(document, name)
    edits = [VariantEdit.from_config(v, c) for v, c in function.get("variants", {}).items()]
    return _editor(
        user,
        name,
        function,
        edits,
        version=info.version,
        message=request.query_params.get("message"),
        notice_error=request.query_params.get("error"),
    )


@post("/functions/{name:str}", include_in_schema=False)
async def save_function(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    opened_on = _int(form.get("version"))
    info, document = await console.config.current()
    function = _function(document, name)
    edits, field_problems = parse_variant_edits(form)
    if field_problems:
        return _editor(
            user, name, function, edits, version=opened_on, problems=field_problems, status=400
        )
    comment = str(form.get("comment") or "").strip() or f"edit {name} in the console"
    try:
        saved = await console.config.write(
            lambda doc: _apply(doc, name, edits),
            author=user.name,
            comment=comment,
            if_match=opened_on,
            target=f"functions/{name}",
        )
    except Conflict:
        return _editor(
            user,
            name,
            function,
            edits,
            version=opened_on,
            stale=info.version,
            status=409,
        )
    except InvalidRequest as exc:
        problems = _problems_by_field(name, exc)
        return _editor(
            user, name, function, edits, version=opened_on, problems=problems, status=400
        )
    message = quote(f"Saved as version {saved.version}.")
    return Redirect(f"/ui/functions/{quote(name)}?message={message}", status_code=303)


@post("/functions/{name:str}/preview", include_in_schema=False)
async def preview(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    _, document = await console.config.current()
    function = _function(document, name)
    edits, problems = parse_variant_edits(form)
    sample = str(form.get("sample_args") or "{}")
    previews = _render_previews(edits, sample)
    return _editor(
        user,
        name,
        function,
        edits,
        version=_int(form.get("version")),
        problems=problems,
        previews=previews,
        sample_args=sample,
    )


def _render_previews(edits: list[VariantEdit], sample: str) -> dict[str, str]:
    try:
        args = json.loads(sample)
    except json.JSONDecodeError as exc:
        return {edit.name: f"Sample args are not JSON: {exc}" for edit in edits}
    if not isinstance(args, dict):
        return {edit.name: "Sample args must be a JSON object" for edit in edits}
    previews = {}
    for edit in edits:
        try:
            previews[edit.name] = compile_template(edit.system_template).render(args)
        except TemplateProblem as exc:
            previews[edit.name] = f"Cannot render: {exc}"
    return previews


def _editor(
    user: ConsoleUser,
    name: str,
    function: dict[str, Any],
    edits: list[VariantEdit],
    *,
    version: int | None,
    status: int = 200,
    problems: dict[str, str] | None = None,
    previews: dict[str, str] | None = None,
    sample_args: str | None = None,
    stale: int | None = None,
    message: str | None = None,
    notice_error: str | None = None,
) -> Response[Any]:
    return page(
        "function.html",
        status,
        user=user,
        section="Functions",
        name=name,
        function=function,
        variants=[edit.as_context() for edit in edits],
        version=version,
        problems=problems or {},
        previews=previews or {},
        sample_args=sample_args or _sample_args(function),
        stale=stale,
        message=message,
        error=_summary(problems, stale, version) or notice_error,
    )


def _summary(problems: dict[str, str] | None, stale: int | None, version: int | None) -> str | None:
    if stale is not None:
        return (
            f"Not saved: someone saved version {stale} after you opened this page (version "
            f"{version}). Your edits are still below; reload to see the current config, then "
            "apply your changes again."
        )
    if problems:
        return f"Not saved: {len(problems)} problem(s), shown next to the fields."
    return None


def _sample_args(function: dict[str, Any]) -> str:
    properties = function.get("system_schema", {}).get("properties", {})
    sample = {
        key: (spec.get("enum") or [f"sample {key}"])[0] if isinstance(spec, dict) else key
        for key, spec in properties.items()
    }
    return json.dumps(sample, indent=2)


def _apply(document: dict[str, Any], name: str, edits: list[VariantEdit]) -> None:
    variants = document["functions"][name]["variants"]
    for edit in edits:
        if edit.name in variants:
            edit.apply_to(variants[edit.name])


def _problems_by_field(name: str, exc: GatewayError) -> dict[str, str]:
    prefix = f"functions.{name}.variants."
    found: dict[str, str] = {}
    for problem in exc.problems or [{"key": "", "message": exc.message}]:
        key, text = str(problem.get("key", "")), str(problem.get("message", ""))
        field = key.removeprefix(prefix) if key.startswith(prefix) else "_form"
        found[field] = f"{found[field]}; {text}" if field in found else text
    return found


def _function(document: dict[str, Any], name: str) -> dict[str, Any]:
    function = document.get("functions", {}).get(name)
    if function is None:
        raise NotFound(f"No function '{name}'", param="name")
    return dict(function)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


HANDLERS = [functions, function_editor, save_function, preview]
