"""The mail queue: each message a request's state change causes is queued as the change is made, and sent
after it, outside any person's action.

`queue_notification` is a local activity: one PostgreSQL write in the worker, inside the workflow task that
made the change, so an action's answer waits for no SMTP server. `send_queued` is a regular activity the
workflow starts once the change's lock is released: it sends a step's messages by event id, in the order
they were queued, each through the sent-message ledger (`notifications`), so a retry sends only what was
not sent. A message no attempt can deliver is given up (marked, with the server's reason, and logged) and
the others still go; `given_up_messages` lists a request's, for its page and its API detail. The message
itself lives in the queue's row, not in the workflow's history.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from pydantic import AwareDatetime, BaseModel, Field
from temporalio import activity

from activities.notifications import (
    Audience,
    Notification,
    NotificationActivities,
    NotificationKind,
    NotificationUndeliverable,
)
from core.logging import get_logger

if TYPE_CHECKING:
    import asyncpg

log = get_logger(__name__)


class SendQueued(BaseModel):
    """The messages of one step, by event id, in the order they were queued."""

    event_ids: list[str]


class QueuedSent(BaseModel):
    """What became of a step's messages: sent (now or by an earlier attempt), given up, or left for the
    next send, in order (this attempt's time was half gone)."""

    sent: list[str]
    given_up: list[str]
    left: list[str] = []


class MailQueue(Protocol):
    async def put(self, notification: Notification) -> None:
        """Queue the message; the same event id queued again replaces a message not yet sent (the task
        that queued it ran again, and wrote its own)."""
        ...

    async def get(self, event_id: str) -> Notification | None:
        """The queued message; None when nothing was queued with that id."""
        ...

    async def give_up(self, event_id: str, reason: str) -> None:
        """No attempt can deliver the message: say so, and why."""
        ...


# `core/migrations/0070_mail_queue.sql`
_PUT = """
INSERT INTO mail_queue (event_id, request_id, notification) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (event_id) DO UPDATE SET notification = EXCLUDED.notification
WHERE mail_queue.notification IS DISTINCT FROM EXCLUDED.notification
"""
_GET = "SELECT notification FROM mail_queue WHERE event_id = $1"
_GIVE_UP = """
UPDATE mail_queue SET given_up_at = now(), given_up_reason = $2 WHERE event_id = $1 AND given_up_at IS NULL
"""
# The address as the queued notification names it (the mailer's `recipients`): the exporter's or the
# importer's email in the request data it carries. The review team's is a setting, not in the message.
_GIVEN_UP = """
SELECT event_id, notification ->> 'kind' AS kind, notification ->> 'audience' AS audience,
       CASE notification ->> 'audience'
           WHEN 'exporter' THEN notification #>> '{form,exporter,email}'
           WHEN 'importer' THEN notification #>> '{form,importer,email}'
       END AS address,
       queued_at, given_up_at, given_up_reason AS reason
FROM mail_queue
WHERE request_id = $1 AND given_up_at IS NOT NULL
ORDER BY queued_at, event_id
"""


class UndeliveredMessage(BaseModel):
    """A message of the request that no attempt could deliver: given up, and never to be sent again."""

    event_id: str
    kind: NotificationKind = Field(description="What the message was about.")
    audience: Audience = Field(description="Whom it was for.")
    address: str | None = Field(
        description="The address it was for, as the message named it: the exporter's or the importer's "
        "email in the request data of its time; none for the review team, whose address is the service's "
        "setting (NOPIC_REVIEW_TEAM_EMAIL)."
    )
    queued_at: AwareDatetime
    given_up_at: AwareDatetime
    reason: str = Field(description="The mail server's refusal, as it gave it.")


async def given_up_messages(db: asyncpg.Pool, request_id: str) -> list[UndeliveredMessage]:
    """The request's messages given up, in the order they were queued."""
    rows = await db.fetch(_GIVEN_UP, request_id)
    return [UndeliveredMessage.model_validate(dict(row)) for row in rows]


class PgMailQueue:
    """The queue in the service's PostgreSQL (table `mail_queue`)."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db

    async def put(self, notification: Notification) -> None:
        await self._db.execute(
            _PUT, notification.event_id, notification.request_id, notification.model_dump(mode="json")
        )

    async def get(self, event_id: str) -> Notification | None:
        queued = await self._db.fetchval(_GET, event_id)
        return None if queued is None else Notification.model_validate(queued)

    async def give_up(self, event_id: str, reason: str) -> None:
        await self._db.execute(_GIVE_UP, event_id, reason)


class MailQueueActivities:
    def __init__(self, queue: MailQueue, notifications: NotificationActivities) -> None:
        self._queue = queue
        self._notifications = notifications

    @activity.defn
    async def queue_notification(self, notification: Notification) -> None:
        await self._queue.put(notification)

    @activity.defn
    async def send_queued(self, step: SendQueued) -> QueuedSent:
        sent: list[str] = []
        given_up: list[str] = []
        # No attempt may still be sending when Temporal gives its messages to the next one (which would send
        # them too): a message is started only in the first half of the attempt's time, and a send still
        # under way at nine tenths of it is cut off (before the server has the whole message, it has none).
        loop = asyncio.get_running_loop()
        timeout = activity.info().start_to_close_timeout
        seconds = None if timeout is None else timeout.total_seconds()
        half_gone = None if seconds is None else loop.time() + seconds / 2
        cut_off_at = None if seconds is None else loop.time() + 0.9 * seconds
        for position, event_id in enumerate(step.event_ids):
            if position > 0 and half_gone is not None and loop.time() > half_gone:
                left = step.event_ids[position:]
                log.info("mail.left_for_next_send", left=len(left))
                return QueuedSent(sent=sent, given_up=given_up, left=left)
            notification = await self._queue.get(event_id)
            if notification is None:
                # Queued by a local activity whose task completed: only a lost database loses it.
                log.error("mail.not_queued", event_id=event_id)
                given_up.append(event_id)
                continue
            try:
                async with asyncio.timeout_at(cut_off_at):
                    await self._notifications.deliver(notification)
            except NotificationUndeliverable as error:
                await self._queue.give_up(event_id, error.message)
                log.warning("mail.given_up", event_id=event_id, reason=error.message)
                given_up.append(event_id)
                continue
            sent.append(event_id)
        return QueuedSent(sent=sent, given_up=given_up)
