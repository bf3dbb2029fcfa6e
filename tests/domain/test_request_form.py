"""The NOPIC Request Form refuses invalid input with a message that names the field and the rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core.settings import Settings, policy_from_settings
from domain.policy import IssuanceMode, Policy
from domain.request import NopicRequestForm, parse_request_form
from tests.support.forms import RECEIVED_AT, form, form_data


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        NopicRequestForm.model_validate(data)
    return str(caught.value)


def changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = form_data()
    change(data)
    return data


def test_a_complete_form_is_accepted_and_clearance_defaults_to_the_eta() -> None:
    request = form()
    assert request.shipment.customs_deadline == request.shipment.eta
    assert request.commodities[1].net_kg == pytest.approx(800.5)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["exporter"].update(operation_id="123456789"),
            "exporter.operation_id",
            "10 digits",
        ),
        (
            lambda d: d["importer"].update(operation_id="12345678901"),
            "importer.operation_id",
            "10 digits",
        ),
        (
            lambda d: d["commodities"][0].update(hts_code="0901.21.0035"),
            "commodities.0.hts_code",
            "10 digits",
        ),
        (lambda d: d["exporter"].update(country="Belgium"), "exporter.country", "ISO 3166 alpha-2"),
        (lambda d: d["exporter"].update(email="not-an-email"), "exporter.email", "email address"),
        (lambda d: d.update(commodities=[]), "commodities", "at least 1 item"),
        (
            lambda d: d["commodities"][0].update(net_kg="0"),
            "commodities.0.net_kg",
            "greater than 0",
        ),
        (
            lambda d: d["commodities"][0].update(organic_standard="95% organic"),
            "organic_standard",
            "organic",
        ),
        (
            lambda d: d["shipment"].update(transport_mode="pipeline"),
            "shipment.transport_mode",
            "'sea'",
        ),
        (
            lambda d: d["documents"][0].update(kind="bill"),
            "documents.0.kind",
            "'commercial_invoice'",
        ),
        (
            lambda d: d["documents"][0].update(sha256="abc"),
            "documents.0.sha256",
            "64 lowercase hex",
        ),
        (lambda d: d.update(received_at="2026-03-02T09:00:00"), "received_at", "timezone info"),
        (
            lambda d: d["shipment"].update(eta="2026-03-24T08:00:00"),
            "shipment.eta",
            "timezone info",
        ),
        (
            lambda d: d["exporter"].update(vat="BE0123"),
            "exporter.vat",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_an_invalid_field_is_refused_by_name(
    change: Callable[[dict[str, Any]], object], field: str, message: str
) -> None:
    text = refusal(changed(change))
    assert field in text and message in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["shipment"].update(eta="2026-03-09T08:00:00+00:00"),
            "eta: the estimated arrival is before",
        ),
        (
            lambda d: d["shipment"].update(expected_clearance="2026-03-23T08:00:00+00:00"),
            "expected_clearance: customs clearance cannot come before the arrival",
        ),
        (
            lambda d: d["shipment"].update(etd="2026-03-01"),
            "shipment.etd: the estimated departure is before the day",
        ),
        (
            lambda d: d.update(timeframe={"first_day": "2026-03-20", "last_day": "2026-03-01"}),
            "last_day: the timeframe ends before it starts",
        ),
        (
            lambda d: d.update(timeframe={"first_day": "2026-03-11", "last_day": "2026-04-30"}),
            "shipment.etd: the estimated departure lies outside the timeframe",
        ),
        (
            lambda d: d["documents"][3].update(supplier="Nobody"),
            "documents.3.supplier: no supplier named 'Nobody'",
        ),
        (
            lambda d: d["documents"][0].update(commodity_index=2),
            "documents.0.commodity_index: the request has 2",
        ),
    ],
)
def test_inconsistent_request_data_is_refused_with_the_rule(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    assert message in refusal(changed(change))


def test_received_at_in_the_future_is_refused_where_the_form_enters_the_service() -> None:
    now = RECEIVED_AT - timedelta(minutes=1)
    with pytest.raises(ValidationError) as caught:
        parse_request_form(form_data(), now=now)
    assert "received_at" in str(caught.value) and "cannot be in the future" in str(caught.value)
    assert parse_request_form(form_data(), now=RECEIVED_AT).received_at == RECEIVED_AT


def test_the_policy_is_built_from_settings() -> None:
    settings = Settings(
        min_lead_working_days=5,
        reminder_offsets=[timedelta(days=1), timedelta(hours=6), timedelta(days=3)],
        timezone="America/Lima",
        holiday_country="PE",
        closure_dates=[date(2026, 12, 24)],
        issuance_mode="manual",
    )
    policy = policy_from_settings(settings)
    assert policy.min_lead_working_days == 5
    assert policy.reminder_offsets == [timedelta(days=3), timedelta(days=1), timedelta(hours=6)]
    assert policy.issuance_mode is IssuanceMode.MANUAL
    assert policy.closure_dates == [date(2026, 12, 24)]
    today = policy_from_settings(Settings())
    assert (today.reminder_time, today.transport_grace_working_days) == (time(9), 2)
    assert (today.deadline_move_allowance, today.quantities_report_before) == (
        timedelta(days=30),
        timedelta(days=7),
    )
    assert today.oid_issue_within == timedelta(hours=1)
    # A policy decoded from a request started before these settings does what that request did.
    assert (Policy().reminder_time, Policy().transport_grace_working_days) == (None, 0)
    assert Policy().oid_issue_within is None
    assert (Policy().deadline_move_allowance, Policy().quantities_report_before) == (None, None)
    assert (
        today.model_copy(
            update={
                "reminder_time": None,
                "transport_grace_working_days": 0,
                "deadline_move_allowance": None,
                "quantities_report_before": None,
                "oid_issue_within": None,
            }
        )
        == Policy()
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("holiday_country", "XX", "no public holidays"),
        ("reminder_offsets", [timedelta(0)], "positive duration"),
    ],
)
def test_a_bad_policy_is_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Policy.model_validate({field: value})


def test_a_request_received_today_may_depart_today() -> None:
    received = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    assert form(received_at=received, etd=date(2026, 3, 10)).shipment.etd == date(2026, 3, 10)
