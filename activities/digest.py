"""The review team's daily digest: what needs attention, read from the read model, sent by mail.

Four lists: requests awaiting review, late requests, deadlines within two working days, and overdue
ones. A request's deadline is its ETD until its NOPICs are issued (they must exist before departure),
then its customs deadline (the definitive transport document is due before it).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import asyncpg
from pydantic import AwareDatetime, BaseModel
from temporalio import activity

from activities.notifications import LedgerEntry, Mailer, Sent, sent_before
from activities.records import RequestSummary
from activities.records_pg import attention_lists
from domain.calendar import WorkingCalendar
from domain.policy import Policy
from domain.state import AWAITING_REVIEW, BEFORE_ISSUE, FINAL_STATUSES

SOON_WORKING_DAYS = 2


class CollectDigestInput(BaseModel):
    as_of: AwareDatetime
    policy: Policy


class Digest(BaseModel):
    day: date
    as_of: AwareDatetime
    horizon: date
    awaiting_review: list[RequestSummary]
    late: list[RequestSummary]
    deadlines_soon: list[RequestSummary]
    overdue: list[RequestSummary]

    @property
    def event_id(self) -> str:
        """One digest a day: the same day gives the same Message-ID, however often it is retried."""
        return f"digest:{self.day.isoformat()}"


def horizon_of(calendar: WorkingCalendar, today: date, working_days: int = SOON_WORKING_DAYS) -> date:
    """The last day of the next `working_days` working days after today."""
    day, counted = today, 0
    while counted < working_days:
        day += timedelta(days=1)
        counted += calendar.is_working_day(day)
    return day


class DigestActivities:
    def __init__(self, db: asyncpg.Pool, mailer: Mailer) -> None:
        self._db = db
        self._mailer = mailer

    @activity.defn
    async def collect_digest(self, input: CollectDigestInput) -> Digest:
        calendar = WorkingCalendar(input.policy)
        today = calendar.day_of(input.as_of)
        horizon = horizon_of(calendar, today)
        horizon_end = datetime.combine(horizon + timedelta(days=1), time(), input.policy.zone)
        lists = await attention_lists(
            self._db,
            awaiting_review=AWAITING_REVIEW,
            before_issue=BEFORE_ISSUE,
            final=FINAL_STATUSES,
            today=today,
            horizon=horizon,
            now=input.as_of,
            horizon_end=horizon_end,
        )
        return Digest(day=today, as_of=input.as_of, horizon=horizon, **lists.model_dump())

    @activity.defn
    async def send_digest(self, digest: Digest) -> Sent:
        # The ledger of sent messages answers a retry after the digest went (at least once, as every message).
        if (earlier := await sent_before(self._db, digest.event_id)) is not None:
            return earlier
        sent = await self._mailer.send_digest(digest, LedgerEntry.of_this_attempt(self._db, digest.event_id))
        activity.logger.info("daily digest sent", extra={"day": digest.day.isoformat()})
        return sent
