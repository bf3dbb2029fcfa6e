"""The README's configuration table is the settings object, field for field."""

from __future__ import annotations

import json
import re

from pydantic import TypeAdapter

from core.settings import Settings
from tests.support.dirs import REPO

README = REPO / "README.md"


def configuration_rows() -> dict[str, tuple[str, str]]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`NOPIC_"):
            default = re.match(r"`([^`]*)`|none", cells[2])
            assert default is not None, f"README default of {cells[0]} is neither `value` nor none"
            rows[cells[0]] = (cells[1].strip("`"), default.group(0).strip("`"))
    return rows


def documented_default(name: str) -> str:
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    value = TypeAdapter(field.annotation).dump_python(default, mode="json")
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)


def test_readme_documents_every_setting_with_its_variable_and_default() -> None:
    rows = configuration_rows()

    assert set(rows) == set(Settings.model_fields)
    for name, (variable, default) in rows.items():
        assert variable == f"NOPIC_{name.upper()}"
        assert default == documented_default(name), name
