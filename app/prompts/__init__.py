"""System prompt templates: compiled once per config version, rendered per request."""

from app.prompts.templates import SystemTemplate, TemplateProblem, compile_template

__all__ = ["SystemTemplate", "TemplateProblem", "compile_template"]
