"""Every activity the request workflow calls, with its timeout and retry policy, in one place.

Each call is a small function: the procedure reads as what it does (record, notify, look up, issue,
cancel), and how hard each outside system is tried, and when the workflow gives up on it, is decided here.
Timeouts and retry policies are not part of what a replay compares, so they may be tuned without a patch;
the order and names of the calls are, so a call is never added, dropped or moved without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError

from workflows.nopic_request import patches

with workflow.unsafe.imports_passed_through():
    from activities.mail_queue import MailQueueActivities, SendQueued
    from activities.nopic_numbers import ClaimedNumber, NumberActivities, NumberClaim
    from activities.notifications import Notification, NotificationActivities, NotificationUndeliverable
    from activities.oid import NON_RETRYABLE_ERRORS as OID_NON_RETRYABLE_ERRORS
    from activities.oid import (
        CancelNopicInput,
        IssuedNopic,
        IssueNopicInput,
        LookupOperationInput,
        NopicData,
        NopicNotFound,
        OidActivities,
        Operation,
    )
    from activities.oid_public import CertifiedItems, OperationActivities
    from activities.records import RecordChangeInput, RecordsActivities

Input = TypeVar("Input")

# The audit trail must be written: retry until it is, backing off to once a minute. An attempt is one
# PostgreSQL transaction (the event, the request's row, its certificates): half a minute means trouble.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
RECORD_TIMEOUT = timedelta(seconds=30)
# Recorded in the worker (a local activity), an attempt holds its workflow task open: bounded well inside
# the task's 10 s, and each retry waits on a workflow timer rather than inside the task.
LOCAL_RECORD_TIMEOUT = timedelta(seconds=5)

# A message that still fails after about a day of attempts is given up (and logged), not the request.
# An attempt renders it (PDFs too) and hands it to the mail server (NOPIC_SMTP_TIMEOUT_SECONDS, 30 s).
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=60,
    non_retryable_error_types=[NotificationUndeliverable.error_type],
)
NOTIFY_TIMEOUT = timedelta(minutes=2)
# A step's queued messages are sent by one activity (three at most in practice): an attempt for them all.
SEND_QUEUED_TIMEOUT = timedelta(minutes=5)

# OID may be down for a while: keep trying, unless it answered something retrying cannot change.
# An attempt is one gateway call, which gives up on a silent OID first (NOPIC_OID_TIMEOUT_SECONDS, 10 s).
OID_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=OID_NON_RETRYABLE_ERRORS,
)
OID_TIMEOUT = timedelta(minutes=1)
# Creating a NOPIC is bounded by the request's policy (`oid_issue_within`, NOPIC_OID_ISSUE_WITHIN): out of
# time, issuance stops as for a refusal and a reviewer approves again (the same key finds a late NOPIC).
# A cancellation the gateway cannot make within this becomes a reviewer's to retry, or to make by hand in
# OID and confirm: the NOPIC stays listed to cancel meanwhile, and nobody waits for the gateway for good.
OID_CANCEL_WITHIN = timedelta(hours=1)

# A NOPIC number typed by hand is claimed while the reviewer waits for the answer, under the request's
# lock: a database that does not answer within this refuses the number ("try again"), never wedges.
CLAIM_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2))
CLAIM_TIMEOUT = timedelta(seconds=5)
CLAIM_WITHIN = timedelta(seconds=20)


def failure_reason(error: ActivityError) -> str:
    """What went wrong, in the words of the activity that failed."""
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def unanswered(error: ActivityError, within: timedelta) -> str | None:
    """OID did not answer in the time it had: that, with its last answer if any; None for another failure.
    Out of time, Temporal reports either a timeout or the last attempt's failure (no retry fits)."""
    cause = error.cause
    if not (isinstance(cause, TimeoutError) or error.retry_state is RetryState.TIMEOUT):
        return None
    minutes = round(within.total_seconds() / 60, 1)
    last = cause.cause if isinstance(cause, TimeoutError) else cause
    answer = f" (last: {last.message})" if isinstance(last, ApplicationError) else ""
    return f"OID did not answer within {minutes:g} minutes{answer}"


def unanswered_since(unanswered: str, asked: datetime, zone: tzinfo) -> str:
    """OID left a NOPIC's creation unanswered: since when, and what a reviewer does about it."""
    since = asked.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"{unanswered}, asked since {since}; approve again to ask OID once more (a NOPIC it created "
        "meanwhile is found, never made twice)"
    )


async def _in_the_worker(method: Callable[[Any, Input], Awaitable[Any]], input: Input) -> None:
    """One write to PostgreSQL as a local activity: bounded by `LOCAL_RECORD_TIMEOUT`, retried until done
    as a record is, each retry waiting on a workflow timer."""
    await workflow.execute_local_activity_method(
        method,
        input,
        start_to_close_timeout=LOCAL_RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
        local_retry_threshold=timedelta(0),
    )


async def record(change: RecordChangeInput) -> None:
    """Write one state change to the audit trail and the read model: in the worker, as a local activity,
    since the `perf-records-local-activity` patch (the same idempotent write, retried the same way, without
    a round trip through the server for each change)."""
    if workflow.patched(patches.RECORDS_IN_THE_WORKER):
        await _in_the_worker(RecordsActivities.record_change, change)
        return
    await workflow.execute_activity_method(
        RecordsActivities.record_change,
        change,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def notify(notification: Notification) -> None:
    """Send one message; one that cannot be delivered is logged and the request goes on."""
    try:
        await workflow.execute_activity_method(
            NotificationActivities.notify,
            notification,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
    except ActivityError as error:
        # An undeliverable message must not stop the request; the audit trail still has the change.
        workflow.logger.warning(
            "notification not delivered",
            extra={"event_id": notification.event_id, "reason": failure_reason(error)},
        )


async def queue_notification(notification: Notification) -> None:
    """Queue one message, in the worker (a local activity, retried as a record is): it is sent by
    `send_queued` once the change that caused it is done."""
    await _in_the_worker(MailQueueActivities.queue_notification, notification)


async def send_queued(event_ids: list[str]) -> list[str]:
    """Send a step's queued messages, in order; the ones left for another send (the attempt's time ran
    short). One that cannot be delivered is given up (and logged), and the others still go. Messages still
    failing after about a day of attempts are logged and the request goes on, as for `notify`."""
    try:
        outcome = await workflow.execute_activity_method(
            MailQueueActivities.send_queued,
            SendQueued(event_ids=event_ids),
            start_to_close_timeout=SEND_QUEUED_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
    except ActivityError as error:
        workflow.logger.warning(
            "notifications not delivered", extra={"event_ids": event_ids, "reason": failure_reason(error)}
        )
        return []
    return outcome.left


async def lookup_operation(operation_id: str, within: timedelta | None = None) -> Operation:
    """The operation as OID knows it; raises `ActivityError` when OID cannot say, or (given `within`)
    does not answer within that time, retries included."""
    return await workflow.execute_activity_method(
        OperationActivities.lookup_operation,
        LookupOperationInput(operation_id=operation_id),
        start_to_close_timeout=OID_TIMEOUT,
        schedule_to_close_timeout=within,
        retry_policy=OID_RETRY,
    )


async def lookup_certified_items(operation_id: str, within: timedelta) -> CertifiedItems:
    """The products OID lists as certified for the operation; raises `ActivityError` when OID cannot say
    within that time, retries included."""
    return await workflow.execute_activity_method(
        OperationActivities.lookup_certified_items,
        LookupOperationInput(operation_id=operation_id),
        start_to_close_timeout=OID_TIMEOUT,
        schedule_to_close_timeout=within,
        retry_policy=OID_RETRY,
    )


async def issue_nopic(
    data: NopicData, idempotency_key: str | None = None, within: timedelta | None = None
) -> IssuedNopic:
    """Create one NOPIC in OID; raises `ActivityError` when OID refuses it or (given `within`) does not
    answer within that time, retries included: a retry with the same key finds a NOPIC created late."""
    return await workflow.execute_activity_method(
        OidActivities.issue_nopic,
        IssueNopicInput(data=data, idempotency_key=idempotency_key),
        start_to_close_timeout=OID_TIMEOUT,
        schedule_to_close_timeout=within,
        retry_policy=OID_RETRY,
    )


async def cancel_in_oid(number: str, reason: str) -> datetime:
    """Cancel one NOPIC through the OID gateway; when it was cancelled there. Raises `ActivityError` when
    OID refuses, including for a number it does not know (typed by hand, say), or does not answer within
    `OID_CANCEL_WITHIN`: staff must see to it then."""
    cancelled = await workflow.execute_activity_method(
        OidActivities.cancel_nopic,
        CancelNopicInput(number=number, reason=reason),
        start_to_close_timeout=OID_TIMEOUT,
        schedule_to_close_timeout=OID_CANCEL_WITHIN,
        retry_policy=OID_RETRY,
    )
    return cancelled.cancelled_at


async def claim_number(claim: NumberClaim) -> ClaimedNumber:
    """Take a NOPIC number for one commodity, or hear who holds it; raises `ActivityError` when the records
    do not answer in time."""
    return await workflow.execute_activity_method(
        NumberActivities.claim_nopic_number,
        claim,
        start_to_close_timeout=CLAIM_TIMEOUT,
        schedule_to_close_timeout=CLAIM_WITHIN,
        retry_policy=CLAIM_RETRY,
    )


async def release_number(claim: NumberClaim) -> None:
    """Give up a number a commodity no longer holds (corrected); retried until done, outside any wait."""
    await workflow.execute_activity_method(
        NumberActivities.release_nopic_number,
        claim,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def cancel_nopic(number: str, reason: str) -> datetime:
    """Cancel one NOPIC in OID; when it was cancelled there. Only for runs recorded before the
    `oid-cancellation-tasks` patch (`cancel_in_oid` since).

    A NOPIC OID no longer has leaves nothing to cancel there: it counts as cancelled when asked.
    """
    asked_at = workflow.now()
    try:
        cancelled = await workflow.execute_activity_method(
            OidActivities.cancel_nopic,
            CancelNopicInput(number=number, reason=reason),
            start_to_close_timeout=OID_TIMEOUT,
            retry_policy=OID_RETRY,
        )
    except ActivityError as error:
        cause = error.cause
        if not (isinstance(cause, ApplicationError) and cause.type == NopicNotFound.error_type):
            raise
        workflow.logger.warning("NOPIC not found in OID", extra={"nopic": number})
        return asked_at
    return cancelled.cancelled_at
