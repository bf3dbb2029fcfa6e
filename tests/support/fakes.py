"""In-memory ports for testing the workflow alone: an OID that issues deterministic numbers, a mailer and
a records store that remember what they were given (each event once, as the real adapters do), and the
NOPIC numbers typed by hand, one commodity each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio import activity

from activities.nopic_numbers import NumberClaim, NumberHolder
from activities.notifications import Notification, Sent
from activities.oid import (
    CERTIFIED,
    Nopic,
    NopicData,
    NopicNotFound,
    NopicRejected,
    NopicStatus,
    OidError,
    Operation,
    OperationNotFound,
)
from activities.oid_http import OidUnavailable
from activities.records import RecordChangeInput, RecordedChange
from domain.scope import CertifiedItem


@dataclass
class FakeOid:
    """OID as a test wants it: `unreachable` (`cancel_unreachable`) makes every look-up (cancellation) fail
    as a dead network does (retried),
    `refuse_products` and `refuse_cancelling` make OID refuse (for good) to issue or cancel those NOPICs,
    and `hold_issue`, while clear, keeps a creation waiting (an answer slow to come); the fields below say
    the rest."""

    operations: dict[str, Operation] = field(default_factory=dict)
    nopics: dict[str, Nopic] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    cancel_reasons: dict[str, str] = field(default_factory=dict)
    unreachable: bool = False
    refuse_products: set[str] = field(default_factory=set)
    refuse_cancelling: set[str] = field(default_factory=set)
    cancel_unreachable: bool = False
    hold_issue: asyncio.Event | None = None
    issue_started: asyncio.Event = field(default_factory=asyncio.Event)
    lookups: int = 0
    # Certified items by operation, as OID's public data lists them; none: listed by nobody (the gateway).
    items: dict[str, list[CertifiedItem]] | None = None
    items_unreachable: bool = False
    # Each creation attempt fails as a dead network does (retried); `issue_answer_lost`: OID creates the
    # NOPIC, then every answer is lost on the way back (retried with the same key).
    issue_unreachable: bool = False
    issue_answer_lost: bool = False
    issue_attempts: int = 0

    def register(self, operation_id: str, name: str, status: str = CERTIFIED) -> None:
        self.operations[operation_id] = Operation(
            operation_id=operation_id, name=name, status=status, certifier="Certisys"
        )

    async def lookup_operation(self, operation_id: str) -> Operation:
        self.lookups += 1
        if self.unreachable:
            raise OidUnavailable("OID could not be reached: connection refused")
        if operation_id not in self.operations:
            raise OperationNotFound(f"no operation {operation_id} in OID")
        return self.operations[operation_id]

    async def certified_items(self, operation_id: str) -> list[CertifiedItem] | None:
        if self.items_unreachable:
            raise OidUnavailable("OID's item data could not be reached: connection refused")
        return None if self.items is None else self.items.get(operation_id, [])

    async def create_nopic(self, idempotency_key: str, data: NopicData) -> Nopic:
        self.issue_started.set()
        self.issue_attempts += 1
        if self.hold_issue is not None:
            await self.hold_issue.wait()
        if self.issue_unreachable:
            raise OidUnavailable("OID could not be reached: connection refused")
        if idempotency_key in self.keys:
            if self.issue_answer_lost:
                raise OidUnavailable("OID created the NOPIC, but its answer was lost: connection reset")
            return self.nopics[self.keys[idempotency_key]]
        if data.product_name in self.refuse_products:
            raise NopicRejected(f"the HTS code {data.hts_code} does not match {data.product_name}")
        importer = self.operations.get(data.importer.operation_id)
        if importer is None or not importer.certified:
            raise NopicRejected(f"importer {data.importer.operation_id} is not certified")
        number = f"840-{data.exporter.operation_id}-{len(self.nopics) + 1:06d}"
        nopic = Nopic(number=number, status=NopicStatus.ISSUED, issued_at=datetime.now(UTC), data=data)
        self.nopics[number] = nopic
        self.keys[idempotency_key] = number
        if self.issue_answer_lost:
            raise OidUnavailable("OID created the NOPIC, but its answer was lost: connection reset")
        return nopic

    async def cancel_nopic(self, number: str, reason: str) -> Nopic:
        if self.cancel_unreachable:
            raise OidUnavailable("OID could not be reached: connection refused")
        if number in self.refuse_cancelling:
            raise OidError(f"OID refused to cancel NOPIC {number}: it is under investigation")
        if number not in self.nopics:
            raise NopicNotFound(f"no NOPIC {number}")
        nopic = self.nopics[number]
        if nopic.status is not NopicStatus.CANCELLED:
            nopic = nopic.model_copy(
                update={"status": NopicStatus.CANCELLED, "cancelled_at": datetime.now(UTC)}
            )
            self.nopics[number] = nopic
            self.cancel_reasons[number] = reason
        return nopic


@dataclass
class RecordingMailer:
    sent: dict[str, Notification] = field(default_factory=dict)
    sent_at: dict[str, datetime] = field(default_factory=dict)
    # Cleared, every send waits until it is set again: a mail server that is slow to answer.
    answering: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.answering.set()

    async def send(self, notification: Notification) -> Sent:
        await self.answering.wait()
        self.sent.setdefault(notification.event_id, notification)
        # The server's clock (skipped time on the time-skipping server), not this machine's.
        self.sent_at.setdefault(notification.event_id, activity.info().current_attempt_scheduled_time)
        return Sent(event_id=notification.event_id, recipients=[notification.audience.value])

    def kinds(self) -> list[tuple[str, str]]:
        return [(n.audience.value, n.kind.value) for n in self.sent.values()]

    def of_kind(self, kind: str) -> list[Notification]:
        return [n for n in self.sent.values() if n.kind == kind]

    def times_of(self, kind: str) -> list[datetime]:
        return [self.sent_at[n.event_id] for n in self.of_kind(kind)]


@dataclass
class MemoryMailQueue:
    """The mail queue in memory: what was queued, in order, and what was given up."""

    queued: dict[str, Notification] = field(default_factory=dict)
    given_up: dict[str, str] = field(default_factory=dict)

    async def put(self, notification: Notification) -> None:
        self.queued[notification.event_id] = notification

    async def get(self, event_id: str) -> Notification | None:
        return self.queued.get(event_id)

    async def give_up(self, event_id: str, reason: str) -> None:
        self.given_up.setdefault(event_id, reason)


@dataclass
class RecordingStore:
    changes: dict[str, RecordChangeInput] = field(default_factory=dict)
    # By action: how long each of its first writes hangs (a database slow to answer), one pause per write.
    slow: dict[str, list[float]] = field(default_factory=dict)

    async def record_change(self, change: RecordChangeInput) -> RecordedChange:
        if pauses := self.slow.get(change.event.action):
            await asyncio.sleep(pauses.pop(0))
        inserted = change.event.event_id not in self.changes
        self.changes.setdefault(change.event.event_id, change)
        return RecordedChange(event_id=change.event.event_id, inserted=inserted)

    def actions(self, request_id: str) -> list[str]:
        return [c.event.action for c in self.of(request_id)]

    def of(self, request_id: str) -> list[RecordChangeInput]:
        return sorted(
            (c for c in self.changes.values() if c.event.request_id == request_id),
            key=lambda c: c.event.sequence,
        )


@dataclass
class NumberBook:
    """The NOPIC numbers claimed, by number: (request, commodity)."""

    claims: dict[str, tuple[str, int]] = field(default_factory=dict)

    async def claim(self, claim: NumberClaim) -> NumberHolder | None:
        holder = self.claims.setdefault(claim.number, (claim.request_id, claim.commodity_index))
        if holder != (claim.request_id, claim.commodity_index):
            return NumberHolder(request_id=holder[0], commodity_index=holder[1])
        return None

    async def release(self, claim: NumberClaim) -> None:
        if self.claims.get(claim.number) == (claim.request_id, claim.commodity_index):
            del self.claims[claim.number]
