"""The review team's daily digest: what needs attention, read from the read model, sent by mail.

Four lists: requests awaiting review, late requests, deadlines within two working days, and overdue
ones. A request's deadline is its ETD until its NOPICs are issued (they must exist before departure),
then its customs deadline (the definitive transport document is due before it).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict
from temporalio import activity

from activities.mail import SmtpMailer
from activities.notifications import LedgerEntry, Sent, sent_before
from domain.calendar import WorkingCalendar
from domain.policy import Policy
from domain.state import RequestStatus

BEFORE_ISSUE = [
    RequestStatus.RECEIVED,
    RequestStatus.AWAITING_DOCUMENTS,
    RequestStatus.IN_REVIEW,
    RequestStatus.ISSUING,
]
AWAITING_REVIEW = [RequestStatus.RECEIVED, RequestStatus.IN_REVIEW]
FINAL = [RequestStatus.EXPIRED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN, RequestStatus.CANCELLED]
SOON_WORKING_DAYS = 2


class DigestLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    status: RequestStatus
    exporter_name: str
    importer_name: str
    product_names: list[str]
    etd: date
    customs_deadline: AwareDatetime
    late: bool


class CollectDigestInput(BaseModel):
    as_of: AwareDatetime
    policy: Policy


class Digest(BaseModel):
    day: date
    as_of: AwareDatetime
    horizon: date
    awaiting_review: list[DigestLine]
    late: list[DigestLine]
    deadlines_soon: list[DigestLine]
    overdue: list[DigestLine]


_COLUMNS = (
    "request_id, status, exporter_name, importer_name, product_names, etd, customs_deadline, late"
)
_OPEN = "NOT (status = ANY($1::text[]))"

_AWAITING_REVIEW = f"SELECT {_COLUMNS} FROM requests WHERE status = ANY($1::text[]) ORDER BY etd, request_id"
_LATE = f"SELECT {_COLUMNS} FROM requests WHERE late AND {_OPEN} ORDER BY etd, request_id"
# $1 before-issue statuses, $2 today, $3 last day of the horizon, $4 now, $5 end of the horizon.
_SOON = f"""
SELECT {_COLUMNS} FROM requests
WHERE (status = ANY($1::text[]) AND etd BETWEEN $2 AND $3)
   OR (status = 'awaiting_transport_document' AND customs_deadline >= $4 AND customs_deadline < $5)
ORDER BY CASE WHEN status = 'awaiting_transport_document' THEN customs_deadline ELSE etd::timestamptz END,
         request_id
"""
# $1 before-issue statuses, $2 today, $3 now.
_OVERDUE = f"""
SELECT {_COLUMNS} FROM requests
WHERE (status = ANY($1::text[]) AND etd < $2)
   OR (status = 'awaiting_transport_document' AND customs_deadline < $3)
ORDER BY etd, request_id
"""


def horizon_of(calendar: WorkingCalendar, today: date, working_days: int = SOON_WORKING_DAYS) -> date:
    """The last day of the next `working_days` working days after today."""
    day, counted = today, 0
    while counted < working_days:
        day += timedelta(days=1)
        counted += calendar.is_working_day(day)
    return day


class DigestActivities:
    def __init__(self, db: asyncpg.Pool, mailer: SmtpMailer, review_team_email: str) -> None:
        self._db = db
        self._mailer = mailer
        self._review_team_email = review_team_email

    @activity.defn
    async def collect_digest(self, input: CollectDigestInput) -> Digest:
        calendar = WorkingCalendar(input.policy)
        today = calendar.day_of(input.as_of)
        horizon = horizon_of(calendar, today)
        horizon_end = datetime.combine(horizon + timedelta(days=1), time(), input.policy.zone)
        before_issue = [str(s) for s in BEFORE_ISSUE]
        async with self._db.acquire() as conn:
            awaiting = await conn.fetch(_AWAITING_REVIEW, [str(s) for s in AWAITING_REVIEW])
            late = await conn.fetch(_LATE, [str(s) for s in FINAL])
            soon = await conn.fetch(_SOON, before_issue, today, horizon, input.as_of, horizon_end)
            overdue = await conn.fetch(_OVERDUE, before_issue, today, input.as_of)
        return Digest(
            day=today,
            as_of=input.as_of,
            horizon=horizon,
            awaiting_review=_lines(awaiting),
            late=_lines(late),
            deadlines_soon=_lines(soon),
            overdue=_lines(overdue),
        )

    @activity.defn
    async def send_digest(self, digest: Digest) -> Sent:
        # One digest a day: the same day gives the same Message-ID, however often it is retried, and the
        # ledger of sent messages answers a retry after it went (at least once, as every message).
        event_id = f"digest:{digest.day.isoformat()}"
        if (earlier := await sent_before(self._db, event_id)) is not None:
            return earlier
        subject, text, html = self._mailer.templates.render("digest", {"d": digest})
        message = self._mailer.build(
            event_id=event_id,
            to=[self._review_team_email],
            subject=subject,
            text=text,
            html=html,
            headers={"X-Nopic-Kind": "daily_digest"},
        )
        await self._mailer.deliver(message, LedgerEntry.of_this_attempt(self._db, event_id))
        activity.logger.info("daily digest sent", extra={"day": digest.day.isoformat()})
        return Sent(event_id=event_id, recipients=[self._review_team_email])


def _lines(rows: list[Any]) -> list[DigestLine]:
    return [DigestLine.model_validate(dict(row)) for row in rows]
