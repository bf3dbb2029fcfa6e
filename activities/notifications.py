"""Telling people what happened to a request: the review team, the exporter and the US importer.

The port `Mailer` is implemented by the SMTP adapter, which renders a template per (audience, kind),
attaches the NOPIC PDFs to `nopic_issued` for the exporter, and derives the Message-ID from `event_id`, so
a retried activity sends the same message.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.request import NopicRequestForm
from domain.state import Certificate, ChecklistItem, ReconciliationLine, RequestState, RequestStatus

if TYPE_CHECKING:
    import asyncpg

    from activities.digest import Digest


class Audience(StrEnum):
    REVIEW_TEAM = "review_team"  # the certifier's address from settings
    EXPORTER = "exporter"  # form.exporter.email
    IMPORTER = "importer"  # form.importer.email


class NotificationKind(StrEnum):
    # review team
    NEW_REQUEST = "new_request"
    DOCUMENTS_RECEIVED = "documents_received"
    TRANSPORT_DEADLINE_PASSED = "transport_deadline_passed"
    REQUEST_WITHDRAWN = "request_withdrawn"
    TIMEFRAME_ENDED = "timeframe_ended"  # with the reconciliation
    # exporter
    MISSING_DOCUMENTS = "missing_documents"
    CORRECTIONS_REQUESTED = "corrections_requested"
    REQUEST_REFUSED = "request_refused"
    TRANSPORT_REMINDER = "transport_reminder"
    TRANSPORT_DOCUMENT_REJECTED = "transport_document_rejected"
    # exporter (data and PDFs attached) and importer (per product: number, HTS code, kg, lots, ACE/OR2)
    NOPIC_ISSUED = "nopic_issued"
    # exporter and importer (and review team when the deadline passed)
    CANCELLATION = "cancellation"
    # added with the procedure's unhappy paths
    DEPARTURE_REMINDER = "departure_reminder"  # exporter: items due before departure still missing
    FIRST_SHIPMENT_QUANTITIES = "first_shipment_quantities"  # exporter: the held document's day and kg
    QUANTITIES_REPORT_REQUESTED = "quantities_report_requested"  # exporter: kg shipped, before expiry
    DEADLINE_MOVED = "deadline_moved"  # review team: every move of the customs deadline
    DEADLINE_MOVE_REQUESTED = "deadline_move_requested"  # review team: an exporter's move past the allowance
    DEADLINE_MOVE_DECIDED = "deadline_move_decided"  # exporter: the reviewer accepted or declined it


class Notification(BaseModel):
    """One message to one audience, with the request's data its template needs."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(
        description="'<request id>:<sequence>:<audience>:<kind>': deterministic, so retries send one message."
    )
    request_id: str
    kind: NotificationKind
    audience: Audience
    status: RequestStatus
    form: NopicRequestForm = Field(description="The request's current data: exporter, importer, shipment...")
    lead_working_days: int
    late: bool
    customs_deadline: AwareDatetime
    missing: list[ChecklistItem] = Field(
        default_factory=list, description="Checklist items still missing (missing_documents, reminders)."
    )
    corrections: list[str] = Field(
        default_factory=list, description="Items to correct (corrections_requested)."
    )
    message: str | None = Field(
        default=None,
        description="The reviewer's message or reason: corrections, refusal, rejection, cancellation."
    )
    certificates: list[Certificate] = Field(
        default_factory=list, description="The NOPICs concerned (nopic_issued, cancellation)."
    )
    reminder_offset: timedelta | None = Field(
        default=None, description="How long before the customs deadline this reminder goes out."
    )
    reconciliation: list[ReconciliationLine] = Field(default_factory=list)
    due_by: AwareDatetime | None = Field(
        default=None,
        description="What the message is due by, when not the customs deadline: the departure, a grace "
        "period's end, a further shipment's document, the expiry, a move asked for.",
    )
    shipped_on: date | None = Field(default=None, description="The further shipment the message is about.")
    previous_deadline: AwareDatetime | None = Field(
        default=None, description="The customs deadline before a move (deadline_moved, deadline_move_*)."
    )

    @classmethod
    def about(
        cls, state: RequestState, kind: NotificationKind, audience: Audience, **details: object
    ) -> Notification:
        """A notification of `kind` to `audience` about the request as it stands in `state`."""
        return cls.model_validate(
            {
                "event_id": f"{state.request_id}:{state.sequence}:{audience}:{kind}",
                "request_id": state.request_id,
                "kind": kind,
                "audience": audience,
                "status": state.status,
                "form": state.form,
                "lead_working_days": state.lead_working_days,
                "late": state.late,
                "customs_deadline": state.customs_deadline,
                **details,
            }
        )


class NotificationUndeliverable(ApplicationError):
    """The message cannot be delivered, however often it is retried (e.g. the address is refused)."""

    error_type = "NotificationUndeliverable"

    def __init__(self, message: str) -> None:
        super().__init__(message, type=self.error_type, non_retryable=True)


class Sent(BaseModel):
    event_id: str
    recipients: list[str]


class Mailer(Protocol):
    """Every message the service sends: notifications about a request, and the review team's digest."""

    async def send(self, notification: Notification) -> Sent:
        """Render and deliver the notification to its audience; the same event_id is the same message."""
        ...

    async def send_digest(self, digest: Digest) -> Sent:
        """Mail the daily digest to the review team; the same day is the same message."""
        ...


class NotificationActivities:
    """`db`, when given, keeps a ledger of delivered messages (`sent_messages`): SMTP cannot take a message
    back, so a retry after a delivery whose completion was lost answers from the ledger instead of sending
    it again. What remains is the moment between the server's acceptance and the ledger's write."""

    def __init__(self, mailer: Mailer, db: asyncpg.Pool | None = None) -> None:
        self._mailer = mailer
        self._db = db

    @activity.defn
    async def notify(self, notification: Notification) -> Sent:
        if self._db is not None:
            recipients = await self._db.fetchval(
                "SELECT recipients FROM sent_messages WHERE event_id = $1", notification.event_id
            )
            if recipients is not None:
                return Sent(event_id=notification.event_id, recipients=list(recipients))
        sent = await self._mailer.send(notification)
        if self._db is not None:
            await self._remember(sent)
        return sent

    async def _remember(self, sent: Sent) -> None:
        """Write the ledger row; the message is out, so keep trying (the database may be restarting) for
        most of the attempt's time rather than fail the attempt and have the retry send it again."""
        import asyncpg  # here, not at the top: workflows import this module, their sandbox needs no asyncpg

        assert self._db is not None
        loop = asyncio.get_running_loop()
        attempt_time = activity.info().start_to_close_timeout or timedelta(0)
        deadline = loop.time() + 0.8 * attempt_time.total_seconds()
        while True:
            try:
                await self._db.execute(
                    "INSERT INTO sent_messages (event_id, recipients) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    sent.event_id,
                    sent.recipients,
                )
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.5)
