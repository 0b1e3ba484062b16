from __future__ import annotations

import pytest

from app.prompts import TemplateProblem, compile_template


def test_render_with_args() -> None:
    template = compile_template("Hello {{ name }}{% if plan %} on {{ plan }}{% endif %}.")
    assert template.render({"name": "Ada", "plan": "pro"}) == "Hello Ada on pro."
    assert template.variables == {"name", "plan"}


def test_missing_argument_names_it() -> None:
    with pytest.raises(TemplateProblem, match="`name` is undefined"):
        compile_template("Hello {{ name }}").render({})


def test_syntax_error_has_a_line() -> None:
    with pytest.raises(TemplateProblem, match="line 2"):
        compile_template("ok\n{{ broken ")


def test_sandbox_blocks_python_internals() -> None:
    template = compile_template("{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateProblem):
        template.render({"name": "x"})
