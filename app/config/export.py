"""Writes a config document back out as a ``variants/`` directory (``config export``).

Templates stay inline (as TOML multi-line strings), so loading the export yields exactly the
exported document: apply → export → apply changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from app.config.loader import FUNCTIONS_DIR, GATEWAY_FILE, SECTIONS


def normalized(value: Any) -> Any:
    """The document without nulls: TOML has none, and a null field means 'the default'."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def write_directory(document: dict[str, Any], root: str | Path) -> list[Path]:
    root = Path(root)
    (root / FUNCTIONS_DIR).mkdir(parents=True, exist_ok=True)
    document = normalized(document)
    gateway = {section: document.get(section, {}) for section in SECTIONS}
    written = [root / GATEWAY_FILE]
    written[0].write_text(tomli_w.dumps(gateway, multiline_strings=True))
    for name, function in document.get("functions", {}).items():
        path = root / FUNCTIONS_DIR / f"{name}.toml"
        path.write_text(tomli_w.dumps(function, multiline_strings=True))
        written.append(path)
    return written
