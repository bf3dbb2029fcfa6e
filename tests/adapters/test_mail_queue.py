"""The mail queue in PostgreSQL and the activity that sends a step's messages, against a real SMTP server."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import ActivityEnvironment

from activities.mail import SmtpMailer
from activities.mail_queue import MailQueueActivities, PgMailQueue, SendQueued, given_up_messages
from activities.notifications import Audience, Notification, NotificationActivities, NotificationKind
from core.settings import Settings
from devstack.smtp_sink import OutboxHandler
from domain.state import RequestStatus
from tests.support.forms import form

REFUSED = "nobody@refused.example"


class RefusingOne(OutboxHandler):
    """The sink, except that it refuses one mailbox, as a server does an address that does not exist, and
    takes `pause` seconds over each message it accepts."""

    pause = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.pause)
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
async def mail_server(tmp_path: Path) -> AsyncIterator[tuple[Settings, Path]]:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(RefusingOne(outbox)), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield Settings(home=tmp_path, smtp_host="127.0.0.1", smtp_port=port), outbox
    server.close()
    await server.wait_closed()


def delivered(outbox: Path) -> list[EmailMessage]:
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in sorted(outbox.glob("*.eml"))]  # type: ignore[misc]


def message(
    request_id: str,
    sequence: int,
    kind: NotificationKind,
    exporter_email: str | None = None,
    audience: Audience = Audience.EXPORTER,
) -> Notification:
    request = form()
    if exporter_email is not None:
        exporter = request.exporter.model_copy(update={"email": exporter_email})
        request = request.model_copy(update={"exporter": exporter})
    return Notification(
        event_id=f"{request_id}:{sequence}:{audience}:{kind}",
        request_id=request_id,
        kind=kind,
        audience=audience,
        status=RequestStatus.AWAITING_DOCUMENTS,
        form=request,
        lead_working_days=5,
        late=False,
        customs_deadline=request.shipment.customs_deadline,
    )


async def test_a_steps_messages_go_in_order_once_and_a_refused_one_is_given_up(
    mail_server: tuple[Settings, Path], db_pool: Any
) -> None:
    settings, outbox = mail_server
    queue = PgMailQueue(db_pool)
    activities = MailQueueActivities(queue, NotificationActivities(SmtpMailer(settings), db_pool))
    request_id = f"queue-{uuid.uuid4().hex[:8]}"
    first = message(request_id, 2, NotificationKind.MISSING_DOCUMENTS)
    refused = message(request_id, 3, NotificationKind.CORRECTIONS_REQUESTED, exporter_email=REFUSED)
    last = message(request_id, 4, NotificationKind.REQUEST_REFUSED)
    for queued in (first, refused, last):
        await ActivityEnvironment().run(activities.queue_notification, queued)
    step = SendQueued(event_ids=[first.event_id, refused.event_id, last.event_id])

    outcome = await ActivityEnvironment().run(activities.send_queued, step)
    assert (outcome.sent, outcome.given_up) == ([first.event_id, last.event_id], [refused.event_id])
    assert [m["X-Nopic-Kind"] for m in delivered(outbox)] == ["missing_documents", "request_refused"]
    row = await db_pool.fetchrow("SELECT * FROM mail_queue WHERE event_id = $1", refused.event_id)
    assert row["given_up_at"] is not None and "550" in row["given_up_reason"]
    [undelivered] = await given_up_messages(db_pool, request_id)
    assert (undelivered.event_id, undelivered.address) == (refused.event_id, REFUSED)
    assert undelivered.kind is NotificationKind.CORRECTIONS_REQUESTED
    assert "550" in undelivered.reason and "no such mailbox" in undelivered.reason

    # The same step again (a retry whose first attempt's completion was lost): nothing is sent twice.
    again = await ActivityEnvironment().run(activities.send_queued, step)
    assert (again.sent, again.given_up) == (outcome.sent, outcome.given_up)
    assert len(delivered(outbox)) == 2


async def test_a_message_queued_again_replaces_the_one_not_yet_sent(db_pool: Any) -> None:
    """The workflow task that queued it ran again (its worker died first) and queued its own."""
    queue = PgMailQueue(db_pool)
    request_id = f"queue-{uuid.uuid4().hex[:8]}"
    first = message(request_id, 2, NotificationKind.MISSING_DOCUMENTS)
    rewritten = first.model_copy(update={"lead_working_days": 4})
    await queue.put(first)
    await queue.put(rewritten)
    assert await queue.get(first.event_id) == rewritten
    assert await queue.get(f"{request_id}:9:exporter:missing_documents") is None


async def test_an_attempt_short_of_time_leaves_the_rest_of_its_step_for_the_next_send(
    mail_server: tuple[Settings, Path], db_pool: Any
) -> None:
    """No attempt is still sending when Temporal hands its messages to the next one."""
    settings, outbox = mail_server
    activities = MailQueueActivities(
        PgMailQueue(db_pool), NotificationActivities(SmtpMailer(settings), db_pool)
    )
    request_id = f"queue-{uuid.uuid4().hex[:8]}"
    step = [message(request_id, n, NotificationKind.MISSING_DOCUMENTS) for n in (2, 3, 4)]
    for queued in step:
        await ActivityEnvironment().run(activities.queue_notification, queued)
    # The server takes 1.6 s over a message: once the first is sent, more than half of a 3 s attempt is
    # gone, well before the send would be cut off at 2.7 s.
    RefusingOne.pause = 1.6
    try:
        short = ActivityEnvironment()
        short.info = dataclasses.replace(short.info, start_to_close_timeout=timedelta(seconds=3))
        outcome = await short.run(activities.send_queued, SendQueued(event_ids=[m.event_id for m in step]))
    finally:
        RefusingOne.pause = 0.0
    assert (outcome.sent, outcome.left) == ([step[0].event_id], [step[1].event_id, step[2].event_id])
    assert len(delivered(outbox)) == 1


async def test_a_requests_given_up_messages_are_listed_with_whom_they_were_for_and_why(db_pool: Any) -> None:
    """`given_up_messages`' statement against PostgreSQL: a request's given up messages only, in the order
    queued, each with the address its notification names (none for the review team), its times aware."""
    queue = PgMailQueue(db_pool)
    request_id = f"queue-{uuid.uuid4().hex[:8]}"
    other_id = f"queue-{uuid.uuid4().hex[:8]}"
    to_exporter = message(request_id, 2, NotificationKind.MISSING_DOCUMENTS, exporter_email=REFUSED)
    delivered_one = message(request_id, 3, NotificationKind.CORRECTIONS_REQUESTED)
    to_importer = message(request_id, 4, NotificationKind.NOPIC_ISSUED, audience=Audience.IMPORTER)
    to_team = message(request_id, 4, NotificationKind.NEW_REQUEST, audience=Audience.REVIEW_TEAM)
    another_requests = message(other_id, 2, NotificationKind.MISSING_DOCUMENTS)
    for queued in (to_exporter, delivered_one, to_importer, to_team, another_requests):
        await queue.put(queued)
    # Given up in another order than queued: the list keeps the queue's.
    await queue.give_up(to_team.event_id, "SMTP server refused every recipient: review@x: 550 5.1.1 unknown")
    await queue.give_up(to_importer.event_id, "SMTP server refused the message: 554 5.7.1 rejected")
    await queue.give_up(to_exporter.event_id, "SMTP server refused every recipient: nobody: 550 5.1.1 gone")
    await queue.give_up(to_exporter.event_id, "a second give-up changes nothing")
    await queue.give_up(another_requests.event_id, "550 not this request")

    listed = await given_up_messages(db_pool, request_id)
    assert [m.event_id for m in listed] == [to_exporter.event_id, to_importer.event_id, to_team.event_id]
    assert [(m.audience, m.kind, m.address) for m in listed] == [
        (Audience.EXPORTER, NotificationKind.MISSING_DOCUMENTS, REFUSED),
        (Audience.IMPORTER, NotificationKind.NOPIC_ISSUED, str(to_importer.form.importer.email)),
        (Audience.REVIEW_TEAM, NotificationKind.NEW_REQUEST, None),
    ]
    assert [m.reason for m in listed] == [
        "SMTP server refused every recipient: nobody: 550 5.1.1 gone",
        "SMTP server refused the message: 554 5.7.1 rejected",
        "SMTP server refused every recipient: review@x: 550 5.1.1 unknown",
    ]
    for m in listed:
        assert m.queued_at.utcoffset() is not None and m.given_up_at.utcoffset() is not None
        assert m.queued_at <= m.given_up_at
    assert await given_up_messages(db_pool, f"queue-{uuid.uuid4().hex[:8]}") == []
