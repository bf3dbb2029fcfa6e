"""NOPIC numbers, and the filing mistakes CBP rejects named as such."""

from __future__ import annotations

import pytest

from domain.nopic_number import check_nopic_number


@pytest.mark.parametrize("number", ["123-1234567890-123456", " 840-0123456789-000001 "])
def test_a_well_formed_nopic_number_is_accepted(number: str) -> None:
    assert check_nopic_number(number) is None


@pytest.mark.parametrize(
    "number",
    ["123-1234567890-123456-draft", "DRAFT-123-1234567890-123456", "123-1234567890-123456 (Draft)"],
)
def test_a_draft_number_is_refused_as_a_draft(number: str) -> None:
    problem = check_nopic_number(number)
    assert problem is not None and "draft" in problem and "not valid for entry" in problem


def test_a_bare_operation_id_is_refused_as_an_operation_id() -> None:
    problem = check_nopic_number("1234567890")
    assert problem is not None and "10-digit NOP operation ID, not a NOPIC number" in problem


@pytest.mark.parametrize(
    "number",
    [
        "12-1234567890-123456",
        "123-123456789-123456",
        "123-1234567890-12345",
        "1231234567890123456",
        "x",
    ],
)
def test_other_malformed_numbers_are_refused_with_the_expected_form(number: str) -> None:
    problem = check_nopic_number(number)
    assert problem is not None and "NNN-NNNNNNNNNN-NNNNNN" in problem
