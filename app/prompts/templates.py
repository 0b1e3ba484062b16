"""Sandboxed Jinja2 templates with strict undefined variables.

Sandboxing matters because templates are edited through the admin API and stored in the
database: a template must not reach Python internals. ``StrictUndefined`` turns a missing
argument into an error the client sees (400 naming the argument) instead of an empty string
silently shipped to the model.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


class TemplateProblem(Exception):
    """A template that does not compile, or a render that lacks an argument."""


class SystemTemplate:
    __slots__ = ("source", "variables", "_template")

    def __init__(self, source: str, template: jinja2.Template, variables: frozenset[str]):
        self.source = source
        self.variables = variables
        self._template = template

    def render(self, args: dict[str, Any]) -> str:
        try:
            return self._template.render(args)
        except jinja2.UndefinedError as exc:
            raise TemplateProblem(f"system_prompt_args: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"system template failed to render: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise TemplateProblem(f"system template failed to render: {exc}") from None


def compile_template(source: str) -> SystemTemplate:
    try:
        ast = _ENV.parse(source)
        template = _ENV.from_string(ast)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"template syntax error at line {exc.lineno}: {exc.message}") from None
    return SystemTemplate(source, template, frozenset(meta.find_undeclared_variables(ast)))
