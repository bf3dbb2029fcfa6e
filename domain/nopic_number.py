"""The NOPIC number, and the filing mistakes CBP rejects, named so staff see which one they made."""

from __future__ import annotations

import re

NOPIC_NUMBER = re.compile(r"\d{3}-\d{10}-\d{6}")
_OPERATION_ID = re.compile(r"\d{10}")


def check_nopic_number(number: str) -> str | None:
    """Why `number` is not a valid NOPIC number, or None when it is."""
    candidate = number.strip()
    if "draft" in candidate.lower():
        return (
            f"{number!r} is a draft: a number with 'draft' in or after it is not valid for entry; "
            "publish the NOPIC in OID and record its final number"
        )
    if _OPERATION_ID.fullmatch(candidate):
        return (
            f"{number!r} is a 10-digit NOP operation ID, not a NOPIC number; "
            "a NOPIC number has the form NNN-NNNNNNNNNN-NNNNNN"
        )
    if not NOPIC_NUMBER.fullmatch(candidate):
        return f"{number!r} is not a NOPIC number: its form is NNN-NNNNNNNNNN-NNNNNN (3, 10 and 6 digits)"
    return None
