"""System prompt templates on MiniJinja, with undefined variables as errors.

MiniJinja (Rust) is sandboxed by construction: a template sees only the data it is given and
cannot reach Python objects' attributes, which matters because templates are edited through
the admin API. It renders a typical system prompt in about a microsecond (sandboxed Jinja2
took ~11 µs). Strict undefined turns a missing argument into a 400 naming it instead of an
empty string silently shipped to the model.
"""

from __future__ import annotations

import re
from typing import Any

import minijinja

_NAME = "system"
_LOCATION = re.compile(r"\(in [^:]*:(\d+)\)")


class TemplateProblem(Exception):
    """A template that does not compile, or a render that lacks an argument."""


class SystemTemplate:
    __slots__ = ("_env", "source", "variables")

    def __init__(self, source: str, env: minijinja.Environment, variables: frozenset[str]):
        self.source = source
        self.variables = variables
        self._env = env

    def render(self, args: dict[str, Any]) -> str:
        try:
            return self._env.render_template(_NAME, **args)
        except minijinja.TemplateError as exc:
            raise TemplateProblem(f"system_prompt_args: {_first_line(exc)}") from None


def compile_template(source: str) -> SystemTemplate:
    env = minijinja.Environment(undefined_behavior="strict", keep_trailing_newline=False)
    try:
        env.add_template(_NAME, source)
    except minijinja.TemplateError as exc:
        message = _first_line(exc)
        line = _LOCATION.search(message)
        where = f" at line {line.group(1)}" if line else ""
        raise TemplateProblem(
            f"template syntax error{where}: {_LOCATION.sub('', message).strip()}"
        ) from None
    return SystemTemplate(source, env, frozenset(env.undeclared_variables_in_template(_NAME)))


def _first_line(exc: minijinja.TemplateError) -> str:
    return str(exc).strip().splitlines()[0]
