"""Working days and lead time, on dated cases: Belgian holidays, weekends, Brussels time, closure dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import WorkingCalendar, is_late, lead_working_days
from domain.policy import Policy

BE = Policy()


def brussels(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BE.zone)


@pytest.mark.parametrize(
    ("received_at", "etd", "lead"),
    [
        # Monday 10:00 in Brussels, ETD Thursday: Monday, Tuesday, Wednesday.
        (brussels("2026-03-02T10:00"), date(2026, 3, 5), 3),
        (brussels("2026-03-02T10:00"), date(2026, 3, 4), 2),
        (brussels("2026-03-02T10:00"), date(2026, 3, 3), 1),
        (brussels("2026-03-02T10:00"), date(2026, 3, 2), 0),
        # Received on Friday afternoon, ETD next Wednesday: Friday, Monday, Tuesday.
        (brussels("2026-03-06T16:00"), date(2026, 3, 11), 3),
        # Received on Saturday: the weekend does not count.
        (brussels("2026-03-07T09:00"), date(2026, 3, 11), 2),
        # Easter Monday (2026-04-06) is a Belgian holiday; Good Friday is not.
        (brussels("2026-04-02T09:00"), date(2026, 4, 8), 3),
        (brussels("2026-04-03T09:00"), date(2026, 4, 8), 2),
        # Labour Day, Friday 2026-05-01.
        (brussels("2026-04-30T09:00"), date(2026, 5, 5), 2),
        # Ascension, Thursday 2026-05-14.
        (brussels("2026-05-13T09:00"), date(2026, 5, 18), 2),
        # Whit Monday 2026-05-25.
        (brussels("2026-05-22T09:00"), date(2026, 5, 27), 2),
        # National Day, Tuesday 2026-07-21.
        (brussels("2026-07-20T09:00"), date(2026, 7, 23), 2),
        # Armistice, Wednesday 2026-11-11.
        (brussels("2026-11-09T09:00"), date(2026, 11, 12), 2),
        # Christmas, Friday 2026-12-25; Christmas Eve is a working day.
        (brussels("2026-12-23T09:00"), date(2026, 12, 29), 3),
        # Across the new year: 2027-01-01 is a Friday holiday.
        (brussels("2026-12-30T09:00"), date(2027, 1, 5), 3),
    ],
)
def test_lead_working_days_in_belgium(received_at: datetime, etd: date, lead: int) -> None:
    assert lead_working_days(BE, received_at, etd) == lead


def test_receipt_after_midnight_in_brussels_counts_from_the_next_day() -> None:
    # 23:30 UTC on Monday is 00:30 on Tuesday in Brussels (winter time, UTC+1).
    assert lead_working_days(BE, datetime(2026, 3, 2, 23, 30, tzinfo=UTC), date(2026, 3, 5)) == 2
    assert lead_working_days(BE, datetime(2026, 3, 2, 22, 30, tzinfo=UTC), date(2026, 3, 5)) == 3


def test_receipt_late_on_friday_in_summer_time_falls_on_saturday() -> None:
    # Summer time is UTC+2: 22:30 UTC on Friday 2026-07-03 is Saturday 00:30 in Brussels.
    assert lead_working_days(BE, datetime(2026, 7, 3, 22, 30, tzinfo=UTC), date(2026, 7, 8)) == 2
    assert lead_working_days(BE, datetime(2026, 7, 3, 21, 30, tzinfo=UTC), date(2026, 7, 8)) == 3


def test_closure_dates_are_not_working_days() -> None:
    closed = Policy(closure_dates=[date(2026, 12, 24), date(2026, 12, 28)])
    assert lead_working_days(closed, brussels("2026-12-23T09:00"), date(2026, 12, 29)) == 1
    calendar = WorkingCalendar(closed)
    assert not calendar.is_working_day(date(2026, 12, 24))
    assert calendar.is_working_day(date(2026, 12, 23))


def test_the_holiday_country_comes_from_the_policy() -> None:
    # Thanksgiving, Thursday 2026-11-26, is a US holiday and a Belgian working day.
    received, etd = brussels("2026-11-25T09:00"), date(2026, 11, 30)
    assert lead_working_days(BE, received, etd) == 3
    assert lead_working_days(Policy(holiday_country="US"), received, etd) == 2


def test_the_time_zone_comes_from_the_policy() -> None:
    # 03:00 UTC on Monday is still Sunday evening in Lima.
    lima = Policy(timezone="America/Lima", holiday_country="PE")
    assert WorkingCalendar(lima).day_of(datetime(2026, 3, 2, 3, 0, tzinfo=UTC)) == date(2026, 3, 1)
    assert lead_working_days(lima, datetime(2026, 3, 2, 3, 0, tzinfo=UTC), date(2026, 3, 4)) == 2


@pytest.mark.parametrize(
    ("lead", "minimum", "late"), [(3, 3, False), (2, 3, True), (0, 3, True), (4, 5, True)]
)
def test_a_request_is_late_below_the_minimum_lead_time(lead: int, minimum: int, late: bool) -> None:
    assert is_late(Policy(min_lead_working_days=minimum), lead) is late


def test_working_days_between_inverted_dates_is_zero() -> None:
    assert WorkingCalendar(BE).working_days(date(2026, 3, 5), date(2026, 3, 2)) == 0
