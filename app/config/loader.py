"""Reads ``variants/`` into one config *document* (a plain dict) and writes it back.

The document is what the config store versions: ``{"providers", "models", "metrics",
"functions"}`` with templates inlined. ``sources`` remembers which file each part came from,
so validation problems can name the file and key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from app.config.problems import Problem
from app.config.schema import (
    AnthropicProviderConfig,
    CampaignConfig,
    DummyProviderConfig,
    MetricConfig,
    ModelConfig,
    OpenAIProviderConfig,
    VariantConfig,
)

GATEWAY_FILE = "gateway.toml"
FUNCTIONS_DIR = "functions"
TEMPLATE_SUFFIX = ".system.jinja"
SECTIONS = ("providers", "models", "metrics")
# A key every entry of a section has; used to tell an entry from a table TOML nested by a dot.
ENTRY_MARKERS = {
    "providers": "type",
    "models": "routing",
    "metrics": "type",
    "variants": "model",
    "campaigns": "variants",
}
# Each section's entry fields: a table under one of these names is the entry's, never a
# separate entry whose name extends this one (see :func:`join_dotted_names`).
ENTRY_FIELDS = {
    section: frozenset(name for struct in structs for name in struct.__struct_fields__)
    for section, structs in {
        "providers": (DummyProviderConfig, OpenAIProviderConfig, AnthropicProviderConfig),
        "models": (ModelConfig,),
        "metrics": (MetricConfig,),
        "variants": (VariantConfig,),
        "campaigns": (CampaignConfig,),
    }.items()
}


class Sources:
    """Maps a document key prefix (``functions.support-bot``) to the file it came from."""

    def __init__(self, default: str = "<document>") -> None:
        self._files: dict[str, str] = {}
        self._default = default

    def add(self, prefix: str, file: str) -> None:
        self._files[prefix] = file

    def file_for(self, key: str) -> str:
        best = ""
        for prefix in self._files:
            if (key == prefix or key.startswith(prefix + ".")) and len(prefix) > len(best):
                best = prefix
        return self._files.get(best, self._default)


def load_directory(path: str | Path) -> tuple[dict[str, Any], Sources, list[Problem]]:
    root = Path(path)
    sources = Sources(default=str(root))
    problems: list[Problem] = []
    document: dict[str, Any] = {section: {} for section in SECTIONS}
    document["functions"] = {}
    if not root.is_dir():
        return document, sources, [Problem(str(root), "", "config directory does not exist")]

    gateway_path = root / GATEWAY_FILE
    gateway = _read_toml(gateway_path, problems) if gateway_path.exists() else None
    if gateway is None and not gateway_path.exists():
        problems.append(
            Problem(str(gateway_path), "", "missing (providers, models and metrics live here)")
        )
    for key, value in (gateway or {}).items():
        if key in SECTIONS:
            document[key] = join_dotted_names(value, ENTRY_MARKERS[key], ENTRY_FIELDS[key])
            sources.add(key, str(gateway_path))
        else:
            problems.append(
                Problem(
                    str(gateway_path),
                    key,
                    f"unknown section (expected one of {', '.join(SECTIONS)})",
                )
            )

    functions_dir = root / FUNCTIONS_DIR
    for file in sorted(functions_dir.glob("*.toml")) if functions_dir.is_dir() else ():
        function = _read_toml(file, problems)
        if function is None:
            continue
        name = file.stem
        for section in ("variants", "campaigns"):
            if isinstance(function.get(section), dict):
                function[section] = join_dotted_names(
                    function[section], ENTRY_MARKERS[section], ENTRY_FIELDS[section]
                )
        document["functions"][name] = function
        sources.add(f"functions.{name}", str(file))
        _attach_templates(name, function, functions_dir / name, sources, problems)
    return document, sources, problems


def join_dotted_names(table: Any, marker: str, fields: frozenset[str] = frozenset()) -> Any:
    """Undo TOML's dotted-key nesting in entry names.

    ``[models.llama-3.1-8b]`` is, to TOML, table ``llama-3`` holding table ``1-8b``. A table that
    lacks the section's marker key and holds only tables is such a split name, so it is joined
    back to ``llama-3.1-8b``. Quoting (``[models."llama-3.1-8b"]``) works too.

    A name may also extend another entry's: with ``[models.gpt-4]`` and ``[models.gpt-4.1]``,
    TOML puts ``1`` inside the ``gpt-4`` entry. A table inside an entry, under a name that is
    none of the entry's ``fields``, that carries the marker itself (or is a split name of such
    tables) is that separate entry, ``gpt-4.1``.
    """
    if not isinstance(table, dict):
        return table
    joined: dict[str, Any] = {}
    for name, value in table.items():
        if _is_split_name(value, marker):
            for sub, entry in join_dotted_names(value, marker, fields).items():
                joined[f"{name}.{sub}"] = entry
            continue
        if isinstance(value, dict) and marker in value:
            inner = {
                k: v for k, v in value.items() if k not in fields and _holds_entries(v, marker)
            }
            if inner:
                value = {k: v for k, v in value.items() if k not in inner}
                for sub, entry in join_dotted_names(inner, marker, fields).items():
                    joined[f"{name}.{sub}"] = entry
        joined[name] = value
    return joined


def _is_split_name(value: Any, marker: str) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and marker not in value
        and all(isinstance(v, dict) for v in value.values())
    )


def _holds_entries(value: Any, marker: str) -> bool:
    """An entry table (it has the marker), or a split name whose leaves all are."""
    if not isinstance(value, dict) or not value:
        return False
    if marker in value:
        return not isinstance(value[marker], dict)
    return all(_holds_entries(v, marker) for v in value.values())


def _attach_templates(
    name: str, function: dict[str, Any], folder: Path, sources: Sources, problems: list[Problem]
) -> None:
    if not folder.is_dir():
        return
    variants = function.get("variants")
    for template in sorted(folder.glob(f"*{TEMPLATE_SUFFIX}")):
        variant = template.name[: -len(TEMPLATE_SUFFIX)]
        key = f"functions.{name}.variants.{variant}"
        if not isinstance(variants, dict) or not isinstance(variants.get(variant), dict):
            problems.append(
                Problem(str(template), key, "template file for a variant that does not exist")
            )
            continue
        if "system_template" in variants[variant]:
            problems.append(
                Problem(str(template), f"{key}.system_template", "given both inline and as a file")
            )
            continue
        variants[variant]["system_template"] = template.read_text()
        sources.add(f"{key}.system_template", str(template))


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(str(path), "", f"TOML syntax error: {exc}"))
    except OSError as exc:
        problems.append(Problem(str(path), "", f"cannot read: {exc.strerror}"))
    return None
