"""The variant editor's form: what a person typed, checked field by field before the whole
document goes through the admin API's validation.

Fields are named ``v<i>.<field>`` with the variant's name in ``v<i>.name``, so any variant name
works in a form field name. An empty parameter removes it from the variant (the model's default
applies); the template, weight and model are always present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.datastructures import FormMultiDict

# Parameters the editor shows, with how to read them. Others stay as they are in the config.
PARAMETERS: dict[str, type] = {"temperature": float, "top_p": float, "max_tokens": int}
MAX_VARIANTS = 200


@dataclass
class VariantEdit:
    name: str
    model: str
    weight: str
    system_template: str
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any]) -> VariantEdit:
        parameters = {p: _text(config.get(p)) for p in PARAMETERS}
        return cls(
            name=name,
            model=str(config.get("model", "")),
            weight=_text(config.get("weight", 1)),
            system_template=str(config.get("system_template") or ""),
            parameters=parameters,
        )

    def as_context(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "weight": self.weight,
            "system_template": self.system_template,
            "parameters": self.parameters,
        }

    def apply_to(self, variant: dict[str, Any]) -> None:
        """Write the edit into a variant's config dict (values already checked)."""
        variant["model"] = self.model
        variant["weight"] = float(self.weight)
        if self.system_template.strip():
            variant["system_template"] = self.system_template
        else:
            variant.pop("system_template", None)
        for name, kind in PARAMETERS.items():
            text = self.parameters.get(name, "").strip()
            if text:
                variant[name] = kind(text)
            else:
                variant.pop(name, None)


def parse_variant_edits(form: FormMultiDict) -> tuple[list[VariantEdit], dict[str, str]]:
    """The edits in the form, and the problems found in single fields (keyed like the admin
    API's problem keys below a function: ``<variant>.<field>``)."""
    edits: list[VariantEdit] = []
    problems: dict[str, str] = {}
    for index in range(MAX_VARIANTS):
        prefix = f"v{index}."
        name = form.get(prefix + "name")
        if not isinstance(name, str):
            break
        edit = VariantEdit(
            name=name,
            model=_field(form, prefix + "model").strip(),
            weight=_field(form, prefix + "weight").strip(),
            system_template=_field(form, prefix + "system_template").replace("\r\n", "\n"),
            parameters={p: _field(form, prefix + p).strip() for p in PARAMETERS},
        )
        problems.update(_check(edit))
        edits.append(edit)
    return edits, problems


def _check(edit: VariantEdit) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not edit.model:
        problems[f"{edit.name}.model"] = "Model is required"
    if not _is_number(edit.weight, float) or float(edit.weight) < 0:
        problems[f"{edit.name}.weight"] = "Weight must be a number ≥ 0"
    for name, kind in PARAMETERS.items():
        text = edit.parameters.get(name, "")
        if text and not _is_number(text, kind):
            what = "a whole number" if kind is int else "a number"
            problems[f"{edit.name}.{name}"] = f"{name} must be {what}"
    return problems


def _is_number(text: str, kind: type) -> bool:
    try:
        value = kind(text)
    except ValueError:
        return False
    return bool(value == value and abs(value) != float("inf"))  # no NaN or infinity


def _field(form: FormMultiDict, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)
