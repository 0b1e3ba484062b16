"""``/admin/datasets``: build a dataset from the inference log, page through it, edit or add
datapoints by hand, export it (docs/evaluations.md).

Admin only, even while auth is otherwise off (like ``/admin/sql``): a dataset is a copy of
logged prompts and answers.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.params import Parameter

from app.api.bodies import body_of
from app.api.security import requires_named_admin
from app.datasets.service import DatasetService
from app.wire.datasets import DatapointWrite, DatasetCreate
from app.wire.response import encoder


def _json(value: object, status: int = 200) -> Response[bytes]:
    return Response(encoder.encode(value), status_code=status, media_type="application/json")


class DatasetsController(Controller):
    path = "/admin/datasets"
    tags = ("datasets",)
    guards = (requires_named_admin,)

    @post(
        "/",
        summary="Build a dataset from the inference log",
        status_code=201,
        opt=body_of(DatasetCreate),
    )
    async def create(self, payload: DatasetCreate, datasets: DatasetService) -> Response[bytes]:
        return _json(await datasets.create(payload), 201)

    @get("/", summary="List datasets with their datapoint counts")
    async def list_datasets(self, datasets: DatasetService) -> Response[bytes]:
        return _json({"datasets": await datasets.all()})

    @get("/{name:str}", summary="A dataset and a page of its datapoints (keyset-paged by id)")
    async def read(
        self,
        name: str,
        datasets: DatasetService,
        after: Annotated[str | None, Parameter(query="after")] = None,
        limit: Annotated[int, Parameter(query="limit")] = 100,
    ) -> Response[bytes]:
        return _json(await datasets.page(name, after=after, limit=limit))

    @post(
        "/{name:str}/datapoints",
        summary="Add a datapoint, or edit one (by id)",
        status_code=200,
        opt=body_of(DatapointWrite),
    )
    async def write(
        self, name: str, payload: DatapointWrite, datasets: DatasetService
    ) -> Response[bytes]:
        return _json(await datasets.write(name, payload), 200 if payload.id else 201)

    @delete(
        "/{name:str}/datapoints/{datapoint_id:str}", summary="Delete a datapoint", status_code=200
    )
    async def remove(
        self, name: str, datapoint_id: str, datasets: DatasetService
    ) -> Response[bytes]:
        await datasets.delete(name, datapoint_id)
        return _json({"deleted": datapoint_id})

    @get("/{name:str}/export", summary="The dataset as JSON Lines or OpenAI chat fine-tuning JSONL")
    async def export(
        self,
        name: str,
        datasets: DatasetService,
        fmt: Annotated[str, Parameter(query="format")] = "jsonl",
        variant: Annotated[str | None, Parameter(query="variant")] = None,
    ) -> Response[bytes]:
        found = await datasets.export(name, fmt, variant)
        headers = {"Content-Disposition": f'attachment; filename="{found.filename}"'}
        if fmt != "jsonl":
            headers["x-switchyard-skipped"] = str(found.skipped)
        return Response(found.body, media_type="application/jsonl", headers=headers)
