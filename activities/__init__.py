"""The activities: each one I/O step of the procedure, one module per outside system.

`oid` (USDA OID's NOPICs, through `oid_http` speaking `oid_contract`), `oid_public` (OID's public operation
data, for the operations check), `nopic_numbers` (numbers typed by hand, one commodity each), `notifications`
and `mail` (SMTP), `mail_queue` (the messages a change causes, sent after it), `records` and `records_pg` (the
audit trail and read model in PostgreSQL), `documents` (the document store), `pdf` (the NOPIC certificate),
`seal` (its signature), `certificate_pdfs` (those kept with a closed request), `collector` (stored files no
request refers to), `digest` (the review team's morning mail).

`build_activities` is the one list of what a worker registers: the service's worker, the workflow tests'
and the whole-service test stack's all call it, each with adapters of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activities.collector import DocumentCollector
from activities.digest import DigestActivities
from activities.mail_queue import MailQueue, MailQueueActivities
from activities.nopic_numbers import NumberActivities, NumberRegistry
from activities.notifications import Mailer, NotificationActivities
from activities.oid import OidActivities, OidGateway
from activities.oid_public import OperationActivities, OperationRegistry
from activities.records import ClosedRequestPdfs, RecordsActivities, RecordsStore

if TYPE_CHECKING:
    import asyncpg

    from activities.documents import DocumentStore


@dataclass(frozen=True)
class Adapters:
    """What the activities talk to: the real systems in the service, in-memory stand-ins in workflow tests.

    `operations` answers the operations check (OID's public data, or the gateway's look-up); `numbers` holds
    the NOPIC numbers typed by hand; `mail_queue` holds the messages state changes cause until they are sent.
    `db` is the service's PostgreSQL: the sent-message ledger and the digest's lists read it. Without one
    (workflow tests), notifications keep no ledger and the digest's activities are not registered.
    `closed_request_pdfs` seals and keeps a closing request's NOPIC PDFs; without it none are kept.
    `documents` is the document store, whose unreferenced files the collector removes (with `db`).
    """

    oid: OidGateway
    operations: OperationRegistry
    mailer: Mailer
    records: RecordsStore
    numbers: NumberRegistry
    mail_queue: MailQueue
    db: asyncpg.Pool | None = None
    closed_request_pdfs: ClosedRequestPdfs | None = None
    documents: DocumentStore | None = None


def build_activities(adapters: Adapters) -> list[Callable[..., Any]]:
    oid = OidActivities(adapters.oid)
    operations = OperationActivities(adapters.operations)
    numbers = NumberActivities(adapters.numbers)
    records = RecordsActivities(adapters.records, adapters.closed_request_pdfs)
    notifications = NotificationActivities(adapters.mailer, adapters.db)
    mail_queue = MailQueueActivities(adapters.mail_queue, notifications)
    registered: list[Callable[..., Any]] = [
        operations.lookup_operation,
        operations.lookup_certified_items,
        oid.issue_nopic,
        oid.cancel_nopic,
        numbers.claim_nopic_number,
        numbers.release_nopic_number,
        notifications.notify,
        mail_queue.queue_notification,
        mail_queue.send_queued,
        records.record_change,
    ]
    if adapters.db is not None:
        digest = DigestActivities(adapters.db, adapters.mailer)
        registered += [digest.collect_digest, digest.send_digest]
        if adapters.documents is not None:
            collector = DocumentCollector(adapters.db, adapters.documents)
            registered.append(collector.collect_unreferenced_documents)
    return registered
