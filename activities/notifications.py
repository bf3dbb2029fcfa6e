"""Telling people what happened to a request: the review team, the exporter and the US importer.

The port `Mailer` is implemented by the SMTP adapter, which renders a template per (audience, kind),
attaches the NOPIC PDFs to `nopic_issued` for the exporter, and derives the Message-ID from `event_id`, so
a retried activity sends the same message.

What mail guarantees: every message is delivered at least once. SMTP cannot give exactly once: between the
server's acceptance of a message and the moment the sender records it, a cut (the worker killed, the
database gone for longer than an attempt lasts) leaves no way to know whether the message went, and the
retry sends it again rather than risk losing it. Such a repeat carries the same Message-ID, subject and
recipients as the first, so mail clients and archives can de-duplicate it; and it happens only after a send
cut off in that window. The ledger (`sent_messages`) keeps the window as small as it can be: each attempt
marks the message as being sent just before its SMTP transaction and as sent right after the server's
reply to DATA, and a retry that finds the first mark without the second logs and counts a possible repeat.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.logging import get_logger
from domain.policy import IssuanceMode
from domain.request import NopicRequestForm
from domain.state import Certificate, ChecklistItem, ReconciliationLine, RequestState, RequestStatus

if TYPE_CHECKING:
    import asyncpg

    from activities.digest import Digest

log = get_logger(__name__)


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
    # exporter and importer, once cancelled in OID (and review team when the deadline passed)
    CANCELLATION = "cancellation"
    # review team: NOPICs to cancel in OID by hand (manual mode), and OID refusing to issue or cancel one
    CANCELLATION_REQUESTED = "cancellation_requested"
    OID_REFUSED = "oid_refused"
    # added with the procedure's unhappy paths
    DEPARTURE_REMINDER = "departure_reminder"  # exporter: items due before departure still missing
    FIRST_SHIPMENT_QUANTITIES = "first_shipment_quantities"  # exporter: the held document's day and kg
    QUANTITIES_REPORT_REQUESTED = "quantities_report_requested"  # exporter: kg shipped, before expiry
    DEADLINE_MOVED = "deadline_moved"  # review team: every move of the customs deadline
    DEADLINE_MOVE_REQUESTED = "deadline_move_requested"  # review team: an exporter's move past the allowance
    DEADLINE_MOVE_DECIDED = "deadline_move_decided"  # exporter: the reviewer accepted or declined it
    # exporter and importer: a NOPIC replaced by a new one (`replace-certificate`): the new number, and
    # that the old one is no longer to be declared (cancelled in OID, or to be)
    NOPIC_REPLACED = "nopic_replaced"


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
        description="The reviewer's message or reason: corrections, refusal, rejection, cancellation.",
    )
    certificates: list[Certificate] = Field(
        default_factory=list, description="The NOPICs concerned (nopic_issued, cancellation)."
    )
    reminder_offset: timedelta | None = Field(
        default=None, description="How long before the customs deadline this reminder goes out."
    )
    reconciliation: list[ReconciliationLine] = Field(default_factory=list)
    issuance_mode: IssuanceMode = Field(
        default=IssuanceMode.API, description="Who makes and cancels the NOPICs in OID: staff or the gateway."
    )
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
                "issuance_mode": state.policy.issuance_mode,
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


class Delivery(Protocol):
    """What a mailer tells the ledger about one message while it sends it."""

    async def sending(self) -> None:
        """Just before the SMTP transaction: from here on the message may leave."""
        ...

    async def accepted(self, recipients: list[str]) -> None:
        """The server answered 250 to DATA: the message is out (said before QUIT, which changes nothing)."""
        ...

    async def not_sent(self) -> None:
        """The transaction failed in a way that proves the message did not leave: no connection, or a reply
        that refused it. (A connection cut or silent in mid-transaction proves nothing: no call then.)"""
        ...


class Mailer(Protocol):
    """Every message the service sends: notifications about a request, and the review team's digest.
    `delivery`, when given, hears of each send as it goes (see `Delivery`)."""

    async def send(self, notification: Notification, delivery: Delivery | None = None) -> Sent:
        """Render and deliver the notification to its audience; the same event_id is the same message."""
        ...

    async def send_digest(self, digest: Digest, delivery: Delivery | None = None) -> Sent:
        """Mail the daily digest to the review team; the same day is the same message."""
        ...


# The statements of the ledger (`core/migrations/0012_sent_messages.sql` and `0013_...`).
_SENT = "SELECT recipients FROM sent_messages WHERE event_id = $1 AND sent_at IS NOT NULL"
_EARLIER_MARK = "SELECT sending_attempt, sent_at FROM sent_messages WHERE event_id = $1 FOR UPDATE"
# A mark over an earlier one that is still there (its send never became sent, nor proved not sent), or
# over a row already sent (two attempts at once), is a possible repeat.
_MARK_SENDING = """
INSERT INTO sent_messages AS m (event_id, sending_attempt, sending_at, sent_at, recipients)
VALUES ($1, $2, now(), NULL, NULL)
ON CONFLICT (event_id) DO UPDATE SET
    sending_attempt = EXCLUDED.sending_attempt,
    sending_at = EXCLUDED.sending_at,
    possible_repeats = m.possible_repeats
        + CASE WHEN m.sending_attempt IS NOT NULL OR m.sent_at IS NOT NULL THEN 1 ELSE 0 END
RETURNING possible_repeats
"""
_MARK_SENT = """
UPDATE sent_messages SET sent_at = now(), recipients = $3, sent_attempt = $2
WHERE event_id = $1 AND sent_at IS NULL
"""
_UNMARK = """
UPDATE sent_messages SET sending_attempt = NULL, sending_at = NULL
WHERE event_id = $1 AND sending_attempt = $2 AND sent_at IS NULL
"""


async def sent_before(db: asyncpg.Pool, event_id: str) -> Sent | None:
    """The message as the ledger has it sent, by an earlier attempt; None if it was not."""
    recipients = await db.fetchval(_SENT, event_id)
    return None if recipients is None else Sent(event_id=event_id, recipients=list(recipients))


class LedgerEntry:
    """One message's row in `sent_messages`, as one activity attempt writes it (a `Delivery`)."""

    def __init__(self, db: asyncpg.Pool, event_id: str, attempt: int, patience: timedelta) -> None:
        self._db = db
        self.event_id = event_id
        self.attempt = attempt
        # How long the "sent" mark may wait for a database that is restarting.
        self._patience = patience.total_seconds()

    @classmethod
    def of_this_attempt(cls, db: asyncpg.Pool, event_id: str) -> LedgerEntry:
        """The entry the running activity attempt writes; the sent mark waits up to 80% of its time."""
        info = activity.info()
        attempt_time = info.start_to_close_timeout or timedelta(0)
        return cls(db, event_id, info.attempt, 0.8 * attempt_time)

    async def sending(self) -> None:
        async with self._db.acquire() as conn, conn.transaction():
            earlier = await conn.fetchrow(_EARLIER_MARK, self.event_id)
            possible_repeats = await conn.fetchval(_MARK_SENDING, self.event_id, self.attempt)
        if earlier is not None and (earlier["sending_attempt"] is not None or earlier["sent_at"] is not None):
            log.warning(
                "mail.possible_repeat",
                event_id=self.event_id,
                attempt=self.attempt,
                earlier_attempt=earlier["sending_attempt"],
                possible_repeats=possible_repeats,
                reason="an earlier send began and was never recorded as sent: it may have been delivered",
            )

    async def accepted(self, recipients: list[str]) -> None:
        """The message is out, so keep trying (the database may be restarting) for most of the attempt's
        time rather than fail the attempt and have the retry send it again."""
        import asyncpg  # here, not at the top: workflows import this module, their sandbox needs no asyncpg

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._patience
        while True:
            try:
                await self._db.execute(_MARK_SENT, self.event_id, self.attempt, recipients)
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def not_sent(self) -> None:
        """Clear this attempt's mark, so the retry is a first send. Best effort: a mark left behind only
        makes the retry count a possible repeat that was none."""
        import asyncpg

        try:
            await self._db.execute(_UNMARK, self.event_id, self.attempt)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            log.warning("mail.mark_not_cleared", event_id=self.event_id, error=str(error))


class NotificationActivities:
    """`db`, when given, keeps the ledger of sent messages (`sent_messages`): a retry after a delivery whose
    completion was lost (a dead worker, a Temporal server away) answers from the ledger instead of sending
    again. What the ledger cannot close is the moment between the server's 250 to DATA and its own write:
    a send cut off there is sent again by the retry, and logged and counted as a possible repeat."""

    def __init__(self, mailer: Mailer, db: asyncpg.Pool | None = None) -> None:
        self._mailer = mailer
        self._db = db

    @activity.defn
    async def notify(self, notification: Notification) -> Sent:
        """One message, sent as it is given: the activity of runs from before the mail queue
        (`mail_queue.send_queued` since)."""
        return await self.deliver(notification)

    async def deliver(self, notification: Notification) -> Sent:
        """Send the message, unless the ledger has it sent by an earlier attempt."""
        if self._db is None:
            return await self._mailer.send(notification)
        if (earlier := await sent_before(self._db, notification.event_id)) is not None:
            return earlier
        entry = LedgerEntry.of_this_attempt(self._db, notification.event_id)
        return await self._mailer.send(notification, entry)
