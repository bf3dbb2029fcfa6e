"""The certifier's working days and a request's lead time.

Working days are Monday to Friday, minus the public holidays of the certifier's country (the `holidays`
package) and the certifier's own closure dates. The certifier's time zone decides on which day a request
was received: a request that arrives at 23:30 UTC on a Monday arrived on Tuesday in Brussels.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import holidays

from domain.policy import Policy


class WorkingCalendar:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._closures = frozenset(policy.closure_dates)
        self._holidays = holidays.country_holidays(policy.holiday_country)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays and day not in self._closures

    def day_of(self, moment: datetime) -> date:
        """The certifier's calendar day at `moment`."""
        return moment.astimezone(self._policy.zone).date()

    def working_days(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included (0 when last is before first)."""
        count = 0
        day = first
        while day <= last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count


def lead_working_days(policy: Policy, received_at: datetime, etd: date) -> int:
    """Working days from the day of receipt (counted when it is a working day) to the day before the ETD."""
    calendar = WorkingCalendar(policy)
    return calendar.working_days(calendar.day_of(received_at), etd - timedelta(days=1))


def is_late(policy: Policy, lead: int) -> bool:
    """Late: fewer working days than the certifier asks for. Flagged for a reviewer, never refused."""
    return lead < policy.min_lead_working_days


def grace_end(policy: Policy, moment: datetime) -> datetime:
    """The end of a grace period opened at `moment`: midnight after the policy's working days that follow
    that day, in the certifier's time zone. No working days: `moment` itself."""
    if policy.transport_grace_working_days == 0:
        return moment
    calendar = WorkingCalendar(policy)
    day, left = calendar.day_of(moment), policy.transport_grace_working_days
    while left > 0:
        day += timedelta(days=1)
        left -= calendar.is_working_day(day)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=policy.zone)
