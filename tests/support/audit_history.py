"""The audit trail held against the workflow's own history, one to one.

`sequences == 1..n` holds by the audit table's unique constraint alone: a doubled action or a dropped event
would pass it. Here the source of truth is Temporal's event history of each request: every state change
the workflow made runs exactly one `record_change` activity: scheduled with the audit event as its input, or,
since the records are written by a local activity, a marker whose result is the event it wrote. The
audit rows must be those events, each once, none missing, in the same order; the workflow's own list of
changes (the state's `history`) must say the same; and every action a person sent must appear there
exactly once. The history also tells which activities a killed worker had in hand: retried after their
start-to-close timeout ran out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from activities.records import AuditEvent, RecordChangeInput, RecordedChange
from domain.state import workflow_id
from tests.support.process_stack import FaultStack

RECORD_ACTIVITY = "record_change"
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass(frozen=True)
class Change:
    """One state change: its audit sequence, what happened, who did it, when."""

    sequence: int
    action: str
    actor: str
    at: datetime


async def history_events(client: Client, request_id: str) -> list[HistoryEvent]:
    """Every event of the request's workflow, its runs before a continue-as-new first."""
    runs: list[list[HistoryEvent]] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id(request_id), run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
        runs.insert(0, events)
        previous = events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            return [event for run in runs for event in run]
        run_id = previous


async def recorded_by_the_workflow(client: Client, events: list[HistoryEvent]) -> list[Change]:
    """The audit events the workflow had the records activity write, in the order it ran them."""
    changes = []
    for event in events:
        audit = await _recorded(client, event)
        if audit is not None:
            changes.append(Change(audit.sequence, audit.action, audit.actor.person_id, audit.at))
    return changes


async def _recorded(client: Client, event: HistoryEvent) -> AuditEvent | None:
    """The audit event of one records activity: a scheduled one's input, a local one's result."""
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name != RECORD_ACTIVITY:
            return None
        [change] = await client.data_converter.decode(scheduled.input.payloads, [RecordChangeInput])
        return change.event  # type: ignore[no-any-return]
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_ACTIVITY_MARKER or "result" not in marker.details:
        return None  # another marker, or an attempt that failed and is retried after a backoff
    [data] = marker.details["data"].payloads
    if json.loads(data.data)["activity_type"] != RECORD_ACTIVITY:
        return None
    [recorded] = await client.data_converter.decode(marker.details["result"].payloads, [RecordedChange])
    return recorded.event  # type: ignore[no-any-return]


def interrupted(events: list[HistoryEvent]) -> int:
    """Activities that ran again after an attempt outlived its start-to-close timeout: what a worker killed
    with them in hand leaves (in the kill test no other fault lasts that long: OID answers or fails within a
    second), or an attempt whose completion could not reach a stopped Temporal server."""
    return sum(
        1
        for event in events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and event.activity_task_started_event_attributes.attempt > 1
        and event.activity_task_started_event_attributes.last_failure.timeout_failure_info.timeout_type
        == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    )


async def audit_rows(stack: FaultStack, request_id: str) -> list[Change]:
    rows = await stack.pool.fetch(
        "SELECT sequence, action, actor_id, occurred_at FROM audit_events WHERE request_id = $1 "
        "ORDER BY sequence",
        request_id,
    )
    return [Change(r["sequence"], r["action"], r["actor_id"], r["occurred_at"]) for r in rows]


@dataclass(frozen=True)
class HistoryReport:
    changes: int  # state changes recorded, over every request
    interrupted: int  # activities run again after an attempt timed out (e.g. with a killed worker)


async def assert_audit_is_the_workflows_history(
    stack: FaultStack, states: dict[str, dict[str, Any]], actions: Callable[[str], list[str]]
) -> HistoryReport:
    """For each request: the audit rows are the workflow's changes one to one (each once, none missing, same
    order, same actor and time), the state's own history says the same, and each of `actions(request id)`
    (the action ids the driver sent) is in it exactly once."""
    client = await stack.temporal()
    gate = asyncio.Semaphore(16)

    async def check(request_id: str) -> tuple[int, int]:
        async with gate:
            events = await history_events(client, request_id)
        by_the_workflow = await recorded_by_the_workflow(client, events)
        # The last change is written just as the state moves on: give that activity a moment.
        for _ in range(100):
            in_the_audit = await audit_rows(stack, request_id)
            if in_the_audit == by_the_workflow:
                break
            await asyncio.sleep(0.2)
        assert in_the_audit == by_the_workflow, (
            f"{request_id}: the audit trail is not the workflow's history:\n"
            f"  audit:    {[(c.sequence, c.action) for c in in_the_audit]}\n"
            f"  workflow: {[(c.sequence, c.action) for c in by_the_workflow]}"
        )
        history = states[request_id]["history"]
        own = [(h["sequence"], h["action"], h["actor"]["person_id"]) for h in history]
        assert own == [(c.sequence, c.action, c.actor) for c in by_the_workflow], request_id
        action_ids = [h["action_id"] for h in history]
        assert len(action_ids) == len(set(action_ids)), f"{request_id}: an action applied twice: {action_ids}"
        for action_id in actions(request_id):
            assert action_ids.count(action_id) == 1, f"{request_id}: {action_id} not applied exactly once"
        return len(by_the_workflow), interrupted(events)

    counts = await asyncio.gather(*(check(request_id) for request_id in states))
    return HistoryReport(changes=sum(c for c, _ in counts), interrupted=sum(i for _, i in counts))
