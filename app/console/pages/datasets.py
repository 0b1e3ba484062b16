"""Datasets: every dataset, one built from the log by a form (the filter of ``POST
/admin/datasets``), a dataset's datapoints page by page, and a datapoint's page where its
reference answer is edited or the datapoint deleted (docs/evaluations.md).

Everything goes through the same :class:`DatasetService` as the admin API, so a filter the
config does not know is refused here with the API's own message.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import Parameter
from litestar.response import Redirect

from app.console.context import ConsoleContext
from app.console.render import page
from app.console.session import ConsoleUser, check_csrf
from app.datasets.service import demonstration_reference
from app.errors import GatewayError, InvalidRequest
from app.wire.datasets import Datapoint, DatapointWrite, DatasetCreate
from app.wire.request import Message

PAGE_SIZE = 50


@get("/datasets", include_in_schema=False)
async def datasets(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    function: str | None = None,
) -> Response[Any]:
    return await _list_page(
        console, user, function=function, message=request.query_params.get("message")
    )


@post("/datasets", include_in_schema=False)
async def create_dataset(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    try:
        created = await console.datasets.create(_create_request(form))
    except GatewayError as exc:
        return await _list_page(
            console, user, status=exc.status, error=exc.message, form=dict(form)
        )
    return Redirect(
        f"/ui/datasets/{quote(created.name)}?message="
        + quote(f"Built {created.name}: {created.datapoints} datapoints from the log."),
        status_code=303,
    )


@get("/datasets/{name:str}", include_in_schema=False)
async def dataset(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    after: str | None = None,
) -> Response[Any]:
    found = await console.datasets.page(name, after=after, limit=PAGE_SIZE)
    evaluations = [e for e in console.evaluations.configured() if e["dataset"] == name]
    return page(
        "dataset.html",
        user=user,
        section="Datasets",
        dataset=msgspec.to_builtins(found.dataset),
        datapoints=[_row(p) for p in found.datapoints],
        next=found.next,
        evaluations=evaluations,
        message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )


@post("/datasets/{name:str}/datapoints", include_in_schema=False)
async def add_datapoint(
    request: Request[Any, Any, Any], console: ConsoleContext, user: ConsoleUser, name: str
) -> Response[Any]:
    """A datapoint typed in by hand: one user message, the template's args, a reference."""
    await check_csrf(request, user)
    form = await request.form()
    back = f"/ui/datasets/{quote(name)}"
    try:
        added = await console.datasets.write(name, _hand_datapoint(form))
    except GatewayError as exc:
        return Redirect(f"{back}?error={quote(exc.message)}", status_code=303)
    return Redirect(
        _datapoint_path(name, added.id) + f"?message={quote('Datapoint added.')}", status_code=303
    )


@get("/datasets/{name:str}/export", include_in_schema=False)
async def export_dataset(
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    fmt: Annotated[str, Parameter(query="format")] = "jsonl",
) -> Response[bytes]:
    """The admin API's export, for a signed-in person (the API itself wants a bearer key)."""
    found = await console.datasets.export(name, fmt)
    return Response(
        found.body,
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )


@get("/datasets/{name:str}/datapoints/{datapoint_id:str}", include_in_schema=False)
async def datapoint(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    datapoint_id: str,
) -> Response[Any]:
    point = await console.datasets.datapoint(name, datapoint_id)
    return _datapoint_page(
        user,
        point,
        message=request.query_params.get("message"),
        error=request.query_params.get("error"),
    )


@post("/datasets/{name:str}/datapoints/{datapoint_id:str}", include_in_schema=False)
async def edit_reference(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    datapoint_id: str,
) -> Response[Any]:
    await check_csrf(request, user)
    form = await request.form()
    text = str(form.get("reference") or "").strip()
    change = DatapointWrite(
        id=datapoint_id, reference_output=demonstration_reference(text) if text else None
    )
    try:
        await console.datasets.write(name, change)
    except GatewayError as exc:
        point = await console.datasets.datapoint(name, datapoint_id)
        return _datapoint_page(user, point, status=exc.status, error=exc.message)
    done = "Reference saved." if text else "Reference cleared."
    return Redirect(
        _datapoint_path(name, datapoint_id) + f"?message={quote(done)}", status_code=303
    )


@post("/datasets/{name:str}/datapoints/{datapoint_id:str}/delete", include_in_schema=False)
async def delete_datapoint(
    request: Request[Any, Any, Any],
    console: ConsoleContext,
    user: ConsoleUser,
    name: str,
    datapoint_id: str,
) -> Response[Any]:
    await check_csrf(request, user)
    await console.datasets.delete(name, datapoint_id)
    done = f"Deleted datapoint {datapoint_id}."
    return Redirect(f"/ui/datasets/{quote(name)}?message={quote(done)}", status_code=303)


async def _list_page(
    console: ConsoleContext,
    user: ConsoleUser,
    *,
    function: str | None = None,
    status: int = 200,
    form: dict[str, Any] | None = None,
    **extra: Any,
) -> Response[Any]:
    every = msgspec.to_builtins(await console.datasets.all())
    shown = [d for d in every if function is None or d["function"] == function]
    snapshot = console.live.current
    return page(
        "datasets.html",
        status,
        user=user,
        section="Datasets",
        datasets=shown,
        function=function,
        functions={name: sorted(f.variants) for name, f in sorted(snapshot.functions.items())},
        metrics=sorted(snapshot.metrics),
        form=form or {"function": function or "", "limit": "200"},
        **extra,
    )


def _create_request(form: FormMultiDict) -> DatasetCreate:
    """The form as the API's body: empty fields are left out, numbers must be numbers."""
    text = {key: str(form.get(key) or "").strip() for key in form}
    picked: dict[str, Any] = {
        key: text[key] for key in ("variant", "campaign", "metric", "from", "to") if text.get(key)
    }
    for key in ("min", "max", "limit"):
        if text.get(key):
            picked[key] = _number(text[key], key)
    if text.get("labels"):
        picked["labels"] = _labels(text["labels"])
    body = {
        "name": text.get("name", ""),
        "function": text.get("function", ""),
        "description": text.get("description", ""),
        "filter": picked,
    }
    try:
        return msgspec.convert(body, DatasetCreate)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Not built: {exc}", param="dataset") from None


def _hand_datapoint(form: FormMultiDict) -> DatapointWrite:
    question = str(form.get("message") or "").strip()
    if not question:
        raise InvalidRequest("Type the user's message of the new datapoint.", param="message")
    args_text = str(form.get("system_prompt_args") or "").strip()
    try:
        args = msgspec.json.decode(args_text) if args_text else None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"System prompt args must be a JSON object: {exc}", param="system_prompt_args"
        ) from None
    if args is not None and not isinstance(args, dict):
        raise InvalidRequest(
            "System prompt args must be a JSON object.", param="system_prompt_args"
        )
    reference = str(form.get("reference") or "").strip()
    return DatapointWrite(
        input_messages=[Message(role="user", content=question)],
        system_prompt_args=args,
        reference_output=demonstration_reference(reference) if reference else None,
    )


def _labels(text: str) -> dict[str, str]:
    """``key=value, key=value`` as the filter's labels."""
    labels = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise InvalidRequest(
                f"Labels are key=value pairs separated by commas; '{pair}' is not one",
                param="labels",
            )
        labels[key.strip()] = value.strip()
    return labels


def _number(text: str, field: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(f"'{field}' must be a number, got '{text}'", param=field) from None
    return int(value) if field == "limit" and value.is_integer() else value


def _datapoint_page(
    user: ConsoleUser, point: Datapoint, *, status: int = 200, **extra: Any
) -> Response[Any]:
    row = _row(point)
    row["messages"] = [{"role": m.role, "text": _message_text(m)} for m in point.input_messages]
    row["args"] = (
        msgspec.json.format(msgspec.json.encode(point.system_prompt_args)).decode()
        if point.system_prompt_args
        else ""
    )
    return page("datapoint.html", status, user=user, section="Datasets", point=row, **extra)


def _row(point: Datapoint) -> dict[str, Any]:
    users = [m for m in point.input_messages if m.role == "user"]
    return {
        "id": point.id,
        "dataset": point.dataset,
        "function": point.function,
        "variant": point.variant,
        "source_inference_id": point.source_inference_id,
        "system_prompt": point.system_prompt,
        "input": _message_text(users[-1]) if users else "",
        "output": _output_text(point.output),
        "reference": _reference_text(point.reference_output),
        "reference_source": point.reference_source,
        "updated_at": point.updated_at,
    }


def _message_text(message: Message) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    if content:
        return " ".join(getattr(part, "text", None) or "" for part in content)
    if message.tool_calls:
        return msgspec.json.encode(message.tool_calls).decode()
    return ""


def _output_text(output: dict[str, Any] | None) -> str:
    if not output:
        return ""
    content = output.get("content")
    if isinstance(content, str) and content:
        return content
    return msgspec.json.encode(output.get("tool_calls") or content or "").decode()


def _reference_text(reference: object) -> str:
    if reference is None:
        return ""
    if isinstance(reference, str):
        return reference
    return msgspec.json.encode(reference).decode()


def _datapoint_path(name: str, datapoint_id: str) -> str:
    return f"/ui/datasets/{quote(name)}/datapoints/{quote(datapoint_id)}"


HANDLERS = [
    datasets,
    create_dataset,
    dataset,
    add_datapoint,
    export_dataset,
    datapoint,
    edit_reference,
    delete_datapoint,
]
