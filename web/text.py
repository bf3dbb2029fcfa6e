"""Free text from people: printable, or refused with the field that is not.

A control character (NUL, escape sequences, ...) shows nowhere sensibly, and PostgreSQL refuses NUL in text
outright: a request carrying one could never have its audit trail written. Line breaks and tabs are text.
"""

from __future__ import annotations

import re
from typing import Any

from web.errors import ApiError, FieldError, invalid_fields

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_fields(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str):
        found = _CONTROL.search(value)
        if found is None:
            return []
        message = f"must not contain control characters (U+{ord(found.group()):04X})"
        return [FieldError(field=path, rule="control_characters", message=message)]
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in _control_fields(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [e for index, item in enumerate(value) for e in _control_fields(item, f"{path}.{index}")]
    return []


def refuse_control_characters(data: Any, path: str = "body") -> None:
    """422 naming every string field of `data` (plain JSON values) that holds a control character."""
    fields = _control_fields(data, path)
    if fields:
        error: ApiError = invalid_fields(fields)
        raise error
