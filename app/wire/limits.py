"""Limits of request input (docs/security.md, "Input limits").

The constants are the ceilings declared on the wire Structs (``Meta`` constraints), so the
decoder enforces them and the OpenAPI document states them. Settings may lower them per
deployment (``SWITCHYARD_MAX_N`` ...; see :class:`app.settings.Settings`); a lowered limit is
checked by :func:`check_limits` right after decoding, with the same 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from msgspec import Meta

from app.errors import InvalidRequest

MAX_N = 128
MAX_LABELS = 64  # entries of labels, metadata, tensorzero::tags and feedback tags
MAX_LABEL_KEY_CHARS = 128
MAX_LABEL_VALUE_CHARS = 2048
MAX_TAGS = 64
MAX_TAG_CHARS = 256

LabelKey = Annotated[str, Meta(max_length=MAX_LABEL_KEY_CHARS)]
LabelValue = Annotated[str, Meta(max_length=MAX_LABEL_VALUE_CHARS)]
Labels = Annotated[dict[LabelKey, LabelValue], Meta(max_length=MAX_LABELS)]
Tag = Annotated[str, Meta(max_length=MAX_TAG_CHARS)]
Tags = Annotated[list[Tag], Meta(max_length=MAX_TAGS)]
N = Annotated[int, Meta(ge=1, le=MAX_N)]


class InputLimits:
    """The limits in force; the defaults are the ceilings above."""

    __slots__ = (
        "label_key_chars",
        "label_value_chars",
        "labels",
        "lowered",
        "n",
        "tag_chars",
        "tags",
    )

    def __init__(
        self,
        *,
        n: int = MAX_N,
        labels: int = MAX_LABELS,
        label_key_chars: int = MAX_LABEL_KEY_CHARS,
        label_value_chars: int = MAX_LABEL_VALUE_CHARS,
        tags: int = MAX_TAGS,
        tag_chars: int = MAX_TAG_CHARS,
    ) -> None:
        self.n = n
        self.labels = labels
        self.label_key_chars = label_key_chars
        self.label_value_chars = label_value_chars
        self.tags = tags
        self.tag_chars = tag_chars
        ceilings = {
            "n": MAX_N,
            "labels": MAX_LABELS,
            "label_key_chars": MAX_LABEL_KEY_CHARS,
            "label_value_chars": MAX_LABEL_VALUE_CHARS,
            "tags": MAX_TAGS,
            "tag_chars": MAX_TAG_CHARS,
        }
        for name, ceiling in ceilings.items():
            value = getattr(self, name)
            if not 1 <= value <= ceiling:
                raise ValueError(f"max_{name} must be between 1 and {ceiling}, got {value}")
        # Nothing lowered: the decoder has checked everything already.
        self.lowered = any(getattr(self, name) < ceiling for name, ceiling in ceilings.items())


DEFAULT_LIMITS = InputLimits()


def check_n(n: int | None, limits: InputLimits) -> None:
    if n is not None and n > limits.n:
        raise InvalidRequest(f"'n' is at most {limits.n}, got {n}", param="n")


def check_labels(labels: Mapping[str, str] | None, param: str, limits: InputLimits) -> None:
    if not labels:
        return
    if len(labels) > limits.labels:
        raise InvalidRequest(
            f"'{param}' has at most {limits.labels} entries, got {len(labels)}", param=param
        )
    for key, value in labels.items():
        if len(key) > limits.label_key_chars:
            raise InvalidRequest(
                f"Keys of '{param}' are at most {limits.label_key_chars} characters", param=param
            )
        if len(value) > limits.label_value_chars:
            raise InvalidRequest(
                f"Values of '{param}' are at most {limits.label_value_chars} characters",
                param=f"{param}.{key}",
            )


def check_tags(tags: Sequence[str] | str | None, limits: InputLimits) -> None:
    if tags is None:
        return
    items = [tags] if isinstance(tags, str) else tags
    if len(items) > limits.tags:
        raise InvalidRequest(f"'tags' has at most {limits.tags} items", param="tags")
    for i, tag in enumerate(items):
        if len(tag) > limits.tag_chars:
            raise InvalidRequest(
                f"Each of 'tags' is at most {limits.tag_chars} characters",
                param="tags" if isinstance(tags, str) else f"tags[{i}]",
            )
