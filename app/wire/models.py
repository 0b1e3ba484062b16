"""``GET /v1/models``: the names a caller may call, in OpenAI's list shape.

Functions and models are listed alike (both are valid ``model`` values); ``kind`` (a Switchyard
extension key, ignored by OpenAI clients) tells them apart. The list is sorted and free of
duplicates, so it is stable across config reloads that do not change the names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

Kind = Literal["function", "model", "embedding_model"]


class ModelEntry(msgspec.Struct):
    id: str
    kind: Kind
    created: int = 0
    object: str = "model"
    owned_by: str = "switchyard"


class ModelList(msgspec.Struct):
    data: list[ModelEntry]
    object: str = "list"


def model_list(
    functions: Iterable[str],
    models: Iterable[str],
    embedding_models: Iterable[str] = (),
    *,
    created: int = 0,
) -> ModelList:
    """The ``/v1/models`` body; a name that is both a function and a model is listed once,
    as a function (resolution tries functions first)."""
    groups: tuple[tuple[Kind, Iterable[str]], ...] = (
        ("function", functions),
        ("model", models),
        ("embedding_model", embedding_models),
    )
    entries: dict[str, ModelEntry] = {}
    for kind, names in groups:
        for name in names:
            entries.setdefault(name, ModelEntry(name, kind, created))
    return ModelList(sorted(entries.values(), key=lambda entry: entry.id))
