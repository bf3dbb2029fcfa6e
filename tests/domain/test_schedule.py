"""When each reminder and deadline of a request comes due (`domain.schedule`), and the grace period's end
(`domain.calendar.grace_end`): dated cases, no workflow."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from domain.calendar import grace_end
from domain.policy import Policy
from domain.request import DocumentKind, NopicRequestForm
from domain.schedule import Due, DueKind, due, expiry, next_due, on_reminder_day, timeframe_end
from domain.state import RequestStatus, ShipmentRecord
from tests.support.forms import COMPLETE_DOCUMENTS, document, form
from tests.support.states import request

NINE = Policy(reminder_time=time(9), transport_grace_working_days=2)
BRUSSELS = NINE.zone


def brussels(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


@pytest.mark.parametrize(
    ("deadline", "offset", "expected"),
    [
        # Three days before a deadline on Tuesday afternoon: Saturday at 09:00, Brussels time.
        (brussels("2026-03-24T15:00"), timedelta(days=3), brussels("2026-03-21T09:00")),
        # The day before, even when the deadline is early in the morning of its day.
        (brussels("2026-03-24T06:00"), timedelta(days=1), brussels("2026-03-23T09:00")),
        # A deadline given in New York time is reminded of on the Brussels day it falls on.
        (datetime(2026, 3, 24, 20, 0, tzinfo=UTC), timedelta(days=1), brussels("2026-03-23T09:00")),
        # Four hours before 10:00: 09:00 that day would still come before the deadline.
        (brussels("2026-03-24T10:00"), timedelta(hours=4), brussels("2026-03-24T09:00")),
        # Four hours before 08:00: 09:00 would come after the deadline, so the exact instant.
        (brussels("2026-03-24T08:00"), timedelta(hours=4), brussels("2026-03-24T04:00")),
    ],
)
def test_a_reminder_goes_out_at_the_local_hour_on_the_day_it_is_due(
    deadline: datetime, offset: timedelta, expected: datetime
) -> None:
    assert on_reminder_day(NINE, deadline, offset) == expected


def test_without_a_reminder_time_a_reminder_goes_out_at_the_exact_offset() -> None:
    deadline = brussels("2026-03-24T15:00")
    assert on_reminder_day(Policy(), deadline, timedelta(days=3)) == deadline - timedelta(days=3)


@pytest.mark.parametrize(
    ("rejected_at", "end"),
    [
        # Monday: Tuesday and Wednesday are left, so it ends when Thursday begins.
        (brussels("2026-03-02T15:00"), brussels("2026-03-05T00:00")),
        # Friday: Monday and Tuesday.
        (brussels("2026-03-06T23:30"), brussels("2026-03-11T00:00")),
        # Thursday before Easter: Friday, (Easter Monday is a holiday) Tuesday.
        (brussels("2026-04-02T10:00"), brussels("2026-04-08T00:00")),
        # 23:30 UTC on Monday is Tuesday in Brussels: Wednesday and Thursday.
        (datetime(2026, 3, 2, 23, 30, tzinfo=UTC), brussels("2026-03-06T00:00")),
    ],
)
def test_a_grace_period_lasts_the_policy_s_working_days_after_the_day_it_opens(
    rejected_at: datetime, end: datetime
) -> None:
    assert grace_end(NINE, rejected_at) == end


def awaiting(**updates: Any) -> Any:
    return request(RequestStatus.AWAITING_TRANSPORT_DOCUMENT, policy=NINE, **updates)


def test_awaiting_the_transport_document_reminders_then_the_customs_deadline() -> None:
    state = awaiting()
    deadline = state.customs_deadline
    assert [(d.kind, d.at) for d in due(state)] == [
        (DueKind.TRANSPORT_REMINDER, on_reminder_day(NINE, deadline, timedelta(days=3))),
        (DueKind.TRANSPORT_REMINDER, on_reminder_day(NINE, deadline, timedelta(days=1))),
        (DueKind.CUSTOMS_DEADLINE, deadline),
    ]
    sent = awaiting(reminders_sent=[timedelta(days=3)])
    assert [d.kind for d in due(sent)] == [DueKind.TRANSPORT_REMINDER, DueKind.CUSTOMS_DEADLINE]


def test_a_grace_period_replaces_the_deadline_by_its_end_with_one_reminder_on_its_last_day() -> None:
    state = awaiting()
    end = state.customs_deadline + timedelta(days=2)
    graced = awaiting(grace_until=end)
    assert due(graced) == (
        Due(DueKind.GRACE_REMINDER, on_reminder_day(NINE, end, timedelta(days=1)), end),
        Due(DueKind.GRACE_END, end, end),
    )
    # A grace period that ends before the customs deadline still lasts until the deadline.
    early = awaiting(grace_until=state.customs_deadline - timedelta(hours=3), grace_reminded=True)
    assert due(early) == (Due(DueKind.GRACE_END, state.customs_deadline, state.customs_deadline),)


def test_before_departure_only_while_an_item_due_then_is_missing() -> None:
    declarations = {"packing_list_applicable": True, "phytosanitary_certificate_applicable": True}
    phyto_form = form(declarations=declarations)
    state = request(RequestStatus.IN_REVIEW, phyto_form, policy=NINE)
    leaving = datetime.combine(phyto_form.shipment.etd, time(0), tzinfo=BRUSSELS)
    assert [(d.kind, d.at) for d in due(state)] == [
        (DueKind.DEPARTURE_REMINDER, brussels(f"{leaving.date() - timedelta(days=3)}T09:00")),
        (DueKind.DEPARTURE_REMINDER, brussels(f"{leaving.date() - timedelta(days=1)}T09:00")),
        (DueKind.DEPARTURE, leaving),
    ]
    documents = [*COMPLETE_DOCUMENTS, document(DocumentKind.PHYTOSANITARY_CERTIFICATE)]
    complete = request(RequestStatus.IN_REVIEW, form(declarations=declarations, documents=documents))
    assert due(complete) == ()
    assert due(request(RequestStatus.IN_REVIEW, phyto_form, policy=NINE, departure_checked=True)) == ()


def shipment_record(state_form: NopicRequestForm, **updates: Any) -> ShipmentRecord:
    return ShipmentRecord.model_validate(
        {
            "action_id": "s-1",
            "shipped_on": state_form.timeframe.first_day,
            "quantities": [{"commodity_index": 0, "net_kg": "100"}],
            "transport_document": document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-9"),
            "recorded_at": state_form.received_at,
            **updates,
        }
    )


def test_the_nopics_expire_at_the_end_of_the_timeframe_never_before_a_shipment_s_customs_deadline() -> None:
    one_day = form(timeframe={"first_day": "2026-03-10", "last_day": "2026-03-10"})
    state = request(RequestStatus.ACTIVE, one_day, policy=NINE)
    assert timeframe_end(state) == brussels("2026-03-11T00:00")
    assert expiry(state) == state.customs_deadline == datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    later = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    further = request(
        RequestStatus.ACTIVE, one_day, shipments=[shipment_record(one_day, expected_clearance=later)]
    )
    assert expiry(further) == later


def test_active_the_kg_report_is_asked_for_before_expiry_and_a_rejected_shipment_waits_for_its_document() -> (
    None
):
    policy = NINE.model_copy(update={"quantities_report_before": timedelta(days=7)})
    request_form = form()
    deadline = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    rejected = shipment_record(request_form, rejected="no seal number", expected_clearance=deadline)
    state = request(RequestStatus.ACTIVE, request_form, policy=policy, shipments=[rejected])
    end = timeframe_end(state)
    assert [(d.kind, d.at, d.shipment) for d in due(state)] == [
        (DueKind.SHIPMENT_REMINDER, brussels("2026-04-09T09:00"), 0),
        (DueKind.SHIPMENT_DEADLINE, deadline, 0),
        (DueKind.QUANTITIES_REPORT, brussels(f"{end.date() - timedelta(days=7)}T09:00"), None),
        (DueKind.EXPIRY, end, None),
    ]


def test_what_comes_next_skips_a_reminder_whose_time_passed_never_a_deadline() -> None:
    state = awaiting()
    deadline = state.customs_deadline
    items = due(state)
    [three, one, at_deadline] = items
    assert next_due(items, three.at - timedelta(hours=1)) == [three]
    assert next_due(items, three.at + timedelta(hours=1)) == [one]
    assert next_due(items, deadline + timedelta(days=5)) == [at_deadline]
