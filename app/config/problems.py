"""A configuration problem: where it is (file and dotted key) and what is wrong.

Validation never stops at the first problem: :class:`ProblemLog` collects them all, each named
by the file its key came from, so ``switchyard config validate`` reports everything at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import msgspec

T = TypeVar("T")


class Problem(NamedTuple):
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found, never just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ProblemLog:
    """Collects problems; ``file_for`` names the file a dotted key came from."""

    def __init__(self, file_for: Callable[[str], str]) -> None:
        self.file_for = file_for
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file_for(key), key, message))

    def decode(self, raw: Any, kind: type[T], key: str) -> T | None:
        """``raw`` as a ``kind``, or None after logging where and why it does not fit."""
        try:
            return msgspec.convert(raw, kind)
        except msgspec.ValidationError as exc:
            text = str(exc)
            path = ""
            if " - at `$" in text:
                text, _, path = text.partition(" - at `$")
                path = path.rstrip("`")
            self.problem(key + path, text)
            return None

    def decode_each(self, raw: Any, kind: type[T], key: str) -> dict[str, T]:
        """Every entry of the table ``raw`` that decodes as a ``kind``."""
        if not isinstance(raw, dict):
            self.problem(key, "must be a table")
            return {}
        return {
            name: value
            for name, item in raw.items()
            if (value := self.decode(item, kind, f"{key}.{name}")) is not None
        }
