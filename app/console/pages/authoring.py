"""Creating things from the console: a variant cloned from another, a campaign, a function, and
the two steps that end an experiment: deleting a variant and promoting a campaign's winner
(docs/console.md, "From a new prompt to a promoted winner").

Every form saves exactly one config version through the admin API's validation, as the variant
editor does; what the config refuses comes back next to the form with the reason, nothing is
half-saved. A variant a campaign still names cannot be deleted: the page says which campaign.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Redirect

from app.console.context import ConsoleContext
from app.console.forms import PARAMETERS, VariantEdit
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.errors import GatewayError, NotFound
from app.prompts.templates import TemplateProblem, compile_template

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME_RULE = "1–64 letters, digits, '_', '.' or '-', starting with a letter or digit"
STICKY_UNITS = ("session_id", "user", "episode_id")


# -- new variant ---------------------------------------------------------------------------


@get("/functions/{name:str}/variants/new", include_in_schema=False)
async def new_variant(
    console: ConsoleContext, user: ConsoleUser, name: str, source: str | None = None
) -> Response[Any]:
    _, document = await console.config.current()
    function = _function(document, name)
    variants = function.get("variants", {})
    source = source if source in variants else next(iter(variants), None)
    if source is None:
        raise NotFound(f"Function '{name}' has no variant to clone", param="source")
    edit = VariantEdit.from_config(_free_name(variants, source), variants[source])
    edit.weight = "0"
    return _variant_form(user, name, function, source, edit, sample_args=_sample_args(function))


@post("/functions/{name:str}/variants/new", include_in_schema=False)
async def create_variant(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    _, document = await console.config.current()
    function = _function(document, name)
    source, edit, sample = _variant_edit(form)
    variants = function.get("variants", {})
    problems = _variant_problems(edit, variants, source)
    if form.get("action") == "preview" or problems:
        preview = None if problems else _preview(edit.system_template, sample)
        status = 400 if problems else 200
        return _variant_form(
            user, name, function, source, edit, sample, problems, preview, status=status
        )

    def mutate(doc: dict[str, Any]) -> None:
        target = doc["functions"][name]["variants"]
        clone = copy.deepcopy(target[source])
        edit.apply_to(clone)
        target[edit.name] = clone

    try:
        saved = await _write(console, user, mutate, f"functions/{name}", form, edit.name, source)
    except GatewayError as exc:
        problems = {"_form": f"Not saved: {exc.message}"}
        return _variant_form(user, name, function, source, edit, sample, problems, status=400)
    message = f"Created variant {edit.name} (weight {edit.weight}) as version {saved.version}."
    return _to(f"/ui/functions/{quote(name)}", message=message)


def _variant_edit(form: Any) -> tuple[str, VariantEdit, str]:
    def text(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    template = form.get("system_template")
    edit = VariantEdit(
        name=text("name"),
        model=text("model"),
        weight=text("weight") or "0",
        system_template=template.replace("\r\n", "\n") if isinstance(template, str) else "",
        parameters={p: text(p) for p in PARAMETERS},
    )
    return text("source"), edit, text("sample_args") or "{}"


def _variant_problems(edit: VariantEdit, variants: dict[str, Any], source: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if source not in variants:
        problems["source"] = f"No variant '{source}' to clone"
    if not _NAME.match(edit.name):
        problems["name"] = f"Name: {_NAME_RULE}"
    elif edit.name in variants:
        problems["name"] = f"A variant '{edit.name}' already exists"
    if not edit.model:
        problems["model"] = "Model is required"
    try:
        if float(edit.weight) < 0:
            raise ValueError
    except ValueError:
        problems["weight"] = "Weight must be a number ≥ 0"
    for parameter, kind in PARAMETERS.items():
        value = edit.parameters.get(parameter, "")
        try:
            if value:
                kind(value)
        except ValueError:
            problems[parameter] = f"{parameter} must be a number"
    try:
        compile_template(edit.system_template)
    except TemplateProblem as exc:
        problems["system_template"] = str(exc)
    return problems


def _variant_form(
    user: ConsoleUser,
    name: str,
    function: dict[str, Any],
    source: str,
    edit: VariantEdit,
    sample_args: str,
    problems: dict[str, str] | None = None,
    preview: str | None = None,
    status: int = 200,
) -> Response[Any]:
    return page(
        "variant_new.html",
        status,
        user=user,
        section="Functions",
        name=name,
        variants=list(function.get("variants", {})),
        source=source,
        variant=edit.as_context(),
        sample_args=sample_args,
        problems=problems or {},
        preview=preview,
        error=(problems or {}).get("_form"),
    )


# -- delete a variant ------------------------------------------------------------------------


@post("/functions/{name:str}/variants/{variant:str}/delete", include_in_schema=False)
async def delete_variant(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    variant: str,
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    _, document = await console.config.current()
    function = _function(document, name)
    back = f"/ui/functions/{quote(name)}"
    users = campaigns_using(function, variant)
    if users:
        return _to(back, error=refusal(variant, users))

    def mutate(doc: dict[str, Any]) -> None:
        variants = doc["functions"][name]["variants"]
        if variant not in variants:
            raise NotFound(f"No variant '{variant}' in '{name}'", param="variant")
        del variants[variant]

    try:
        saved = await _write(console, user, mutate, f"functions/{name}", form, variant)
    except GatewayError as exc:
        return _to(back, error=f"Not deleted: {exc.message}")
    return _to(back, message=f"Deleted variant {variant} as version {saved.version}.")


def campaigns_using(function: dict[str, Any], variant: str) -> list[tuple[str, str]]:
    """(campaign, status) of every campaign that names the variant, ended ones included: its
    results would lose a variant."""
    return [
        (key, str(campaign.get("status", "active")))
        for key, campaign in function.get("campaigns", {}).items()
        if variant in campaign.get("variants", {})
    ]


def refusal(variant: str, users: list[tuple[str, str]]) -> str:
    named = ", ".join(f"{key} ({status})" for key, status in users)
    return (
        f"Variant {variant} is not deleted: campaign {named} uses it. Remove it from the "
        "campaign's variants (or delete the campaign) first, so no result loses its data."
    )


# -- new campaign ----------------------------------------------------------------------------


@get("/functions/{name:str}/campaigns/new", include_in_schema=False)
async def new_campaign(console: ConsoleContext, user: ConsoleUser, name: str) -> Response[Any]:
    _, document = await console.config.current()
    function = _function(document, name)
    draft = {"key": "", "description": "", "type": "fixed", "sticky_by": "session_id"}
    return _campaign_form(user, document, name, function, draft, {})


@post("/functions/{name:str}/campaigns/new", include_in_schema=False)
async def create_campaign(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    _, document = await console.config.current()
    function = _function(document, name)
    draft, weights, problems = _campaign_draft(form, function, document)
    if problems:
        return _campaign_form(user, document, name, function, draft, weights, problems, 400)
    key = draft["key"]
    campaign: dict[str, Any] = {
        "variants": {v: float(w) for v, w in weights.items()},
        "type": draft["type"],
        "sticky_by": draft["sticky_by"],
        "status": draft["status"],
    }
    for optional in ("metric", "description"):
        if draft.get(optional):
            campaign[optional] = draft[optional]

    def mutate(doc: dict[str, Any]) -> None:
        doc["functions"][name].setdefault("campaigns", {})[key] = campaign

    try:
        saved = await _write(console, user, mutate, f"functions/{name}/campaigns/{key}", form, key)
    except GatewayError as exc:
        problems = {"_form": f"Not saved: {exc.message}"}
        return _campaign_form(user, document, name, function, draft, weights, problems, 400)
    message = f"Campaign {key} saved ({draft['status']}) as version {saved.version}."
    return _to(f"/ui/campaigns/{quote(key)}?function={quote(name)}", message=message)


def _campaign_draft(
    form: Any, function: dict[str, Any], document: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    def text(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    draft = {
        "key": text("key"),
        "description": text("description"),
        "type": text("type") or "fixed",
        "metric": text("metric"),
        "sticky_by": text("sticky_by") or "session_id",
        "status": "active" if text("start") != "later" else "paused",
    }
    chosen = [v for v in function.get("variants", {}) if form.get(f"use.{v}")]
    weights = {v: text(f"weight.{v}") or "1" for v in chosen}
    problems: dict[str, str] = {}
    if not _NAME.match(draft["key"]):
        problems["key"] = f"Name: {_NAME_RULE}"
    elif draft["key"] in function.get("campaigns", {}):
        problems["key"] = f"A campaign '{draft['key']}' already exists"
    if len(chosen) < 2:
        problems["variants"] = "Pick at least two variants to compare"
    for variant, weight in weights.items():
        try:
            if float(weight) < 0:
                raise ValueError
        except ValueError:
            problems["variants"] = f"The weight of {variant} must be a number ≥ 0"
    if draft["type"] not in ("fixed", "adaptive"):
        problems["type"] = "Type is fixed or adaptive"
    if draft["sticky_by"] not in STICKY_UNITS:
        problems["sticky_by"] = f"Sticky unit is one of {', '.join(STICKY_UNITS)}"
    metrics = document.get("metrics", {})
    if draft["metric"] and draft["metric"] not in metrics:
        problems["metric"] = f"No metric '{draft['metric']}'"
    if draft["type"] == "adaptive" and not draft["metric"]:
        problems["metric"] = "An adaptive campaign needs the metric it optimizes"
    return draft, weights, problems


def _campaign_form(
    user: ConsoleUser,
    document: dict[str, Any],
    name: str,
    function: dict[str, Any],
    draft: dict[str, str],
    weights: dict[str, str],
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response[Any]:
    variants = [
        {"name": v, "chosen": v in weights, "weight": weights.get(v, str(c.get("weight", 1)))}
        for v, c in function.get("variants", {}).items()
    ]
    return page(
        "campaign_new.html",
        status,
        user=user,
        section="Campaigns",
        name=name,
        draft=draft,
        variants=variants,
        metrics=list(document.get("metrics", {})),
        sticky_units=STICKY_UNITS,
        problems=problems or {},
        error=(problems or {}).get("_form"),
    )


# -- promote a campaign's winner -------------------------------------------------------------


@post("/campaigns/{key:str}/promote", include_in_schema=False)
async def promote(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    key: str,
    function: str,
) -> Response[Any]:
    """End the campaign and send all of the function's traffic to the winner: weight 1 for
    it, 0 for the others, and it becomes the default variant."""
    await check_csrf(request, user)
    form = await request.form()
    winner = str(form.get("variant") or "")
    back = f"/ui/campaigns/{quote(key)}?function={quote(function)}"

    def mutate(doc: dict[str, Any]) -> None:
        node = doc.get("functions", {}).get(function, {})
        campaign = node.get("campaigns", {}).get(key)
        if campaign is None or winner not in node.get("variants", {}):
            raise NotFound(f"No campaign '{key}' with a variant '{winner}'", param="variant")
        campaign["status"] = "ended"
        for name, variant in node["variants"].items():
            variant["weight"] = 1.0 if name == winner else 0.0
        node["default_variant"] = winner

    try:
        saved = await _write(console, user, mutate, f"functions/{function}", form, winner)
    except GatewayError as exc:
        return _to(back, error=f"Not promoted: {exc.message}")
    message = (
        f"Promoted {winner}: campaign {key} ended, {winner} now gets all of {function}'s "
        f"traffic (version {saved.version})."
    )
    return _to(back, message=message)


# -- new function ----------------------------------------------------------------------------


@get("/functions/new", include_in_schema=False)
async def new_function(console: ConsoleContext, user: ConsoleUser) -> Response[Any]:
    _, document = await console.config.current()
    draft = {"name": "", "description": "", "schema": "", "variant": "baseline", "model": ""}
    draft["template"] = ""
    return _function_form(user, document, draft, {})


@post("/functions/new", include_in_schema=False)
async def create_function(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    _, document = await console.config.current()
    draft = {
        k: (form.get(k) or "").strip() if isinstance(form.get(k), str) else ""
        for k in ("name", "description", "schema", "variant", "model", "template")
    }
    function, problems = _function_draft(draft, document)
    if problems:
        return _function_form(user, document, draft, problems, 400)
    name = draft["name"]

    def mutate(doc: dict[str, Any]) -> None:
        doc.setdefault("functions", {})[name] = function

    try:
        saved = await _write(console, user, mutate, f"functions/{name}", form, name)
    except GatewayError as exc:
        return _function_form(user, document, draft, {"_form": f"Not saved: {exc.message}"}, 400)
    return _to(
        f"/ui/functions/{quote(name)}", message=f"Created {name} as version {saved.version}."
    )


def _function_draft(
    draft: dict[str, str], document: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    problems: dict[str, str] = {}
    if not _NAME.match(draft["name"]):
        problems["name"] = f"Name: {_NAME_RULE}"
    elif draft["name"] in document.get("functions", {}) or draft["name"] in document.get(
        "models", {}
    ):
        problems["name"] = f"'{draft['name']}' is already a function or model name"
    if not _NAME.match(draft["variant"]):
        problems["variant"] = f"Variant name: {_NAME_RULE}"
    if not draft["model"]:
        problems["model"] = "Model is required"
    schema: Any = None
    if draft["schema"]:
        try:
            schema = json.loads(draft["schema"])
        except json.JSONDecodeError as exc:
            problems["schema"] = f"Not JSON: {exc}"
        else:
            if not isinstance(schema, dict):
                problems["schema"] = "The args schema must be a JSON object (a JSON Schema)"
    try:
        compile_template(draft["template"])
    except TemplateProblem as exc:
        problems["template"] = str(exc)
    variant: dict[str, Any] = {"model": draft["model"], "weight": 1.0}
    if draft["template"]:
        variant["system_template"] = draft["template"].replace("\r\n", "\n")
    function: dict[str, Any] = {"variants": {draft["variant"]: variant}}
    if draft["description"]:
        function["description"] = draft["description"]
    if schema is not None:
        function["system_schema"] = schema
    return function, problems


def _function_form(
    user: ConsoleUser,
    document: dict[str, Any],
    draft: dict[str, str],
    problems: dict[str, str],
    status: int = 200,
) -> Response[Any]:
    models = [m for m, c in document.get("models", {}).items() if c.get("kind", "chat") == "chat"]
    return page(
        "function_new.html",
        status,
        user=user,
        section="Functions",
        draft=draft,
        models=models,
        problems=problems,
        error=problems.get("_form"),
    )


# -- shared ----------------------------------------------------------------------------------


async def _write(
    console: ConsoleContext,
    user: ConsoleUser,
    mutate: Any,
    target: str,
    form: Any,
    *subject: str,
) -> Any:
    comment = str(form.get("comment") or "").strip()
    version = form.get("version")
    return await console.config.write(
        mutate,
        author=user.name,
        comment=comment or f"console: {target} ({', '.join(subject)})",
        if_match=int(version) if isinstance(version, str) and version.isdigit() else None,
        target=target,
    )


def _preview(template: str, sample: str) -> str:
    try:
        args = json.loads(sample)
    except json.JSONDecodeError as exc:
        return f"Sample args are not JSON: {exc}"
    if not isinstance(args, dict):
        return "Sample args must be a JSON object"
    try:
        return compile_template(template).render(args)
    except TemplateProblem as exc:
        return f"Cannot render: {exc}"


def _sample_args(function: dict[str, Any]) -> str:
    properties = function.get("system_schema", {}).get("properties", {})
    return json.dumps({key: f"sample {key}" for key in properties}, indent=2)


def _free_name(variants: dict[str, Any], source: str) -> str:
    for n in range(2, 1000):
        candidate = f"{source}-v{n}"
        if candidate not in variants:
            return candidate
    return f"{source}-copy"


def _function(document: dict[str, Any], name: str) -> dict[str, Any]:
    function = document.get("functions", {}).get(name)
    if function is None:
        raise NotFound(f"No function '{name}'", param="name")
    return dict(function)


def _to(path: str, *, message: str | None = None, error: str | None = None) -> Redirect:
    joiner = "&" if "?" in path else "?"
    if message:
        path += f"{joiner}message={quote(message)}"
    elif error:
        path += f"{joiner}error={quote(error)}"
    return Redirect(path, status_code=303)


HANDLERS = [
    new_function,
    create_function,
    new_variant,
    create_variant,
    delete_variant,
    new_campaign,
    create_campaign,
    promote,
]
