"""The movable-deadline wait on its own: it wakes at the deadline wherever it moved, and ends when over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.harness import SKIP_LIMIT, at_instant
from tests.support.workflows import DeadlineInput, DeadlineResult, WaitForDeadline
from worker import workflow_runner


async def timers(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The timer events of the run, in order: started (with its summary), fired or cancelled."""
    events = []
    async for event in handle.fetch_history_events():
        if event.HasField("timer_started_event_attributes"):
            summary = event.user_metadata.summary.data.decode()
            events.append(f"started {summary}")
        elif event.HasField("timer_fired_event_attributes"):
            events.append("fired")
        elif event.HasField("timer_canceled_event_attributes"):
            events.append("cancelled")
    return events


async def test_the_wait_wakes_at_the_deadline_it_was_moved_to(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = time_skipping_env
    now = await env.get_current_time()
    async with Worker(
        env.client, task_queue=task_queue, workflows=[WaitForDeadline], workflow_runner=workflow_runner()
    ):
        handle = await env.client.start_workflow(
            WaitForDeadline.run,
            DeadlineInput(deadline=now + timedelta(days=1)),
            id=f"deadline-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        moved = now + timedelta(days=3)
        await handle.signal(WaitForDeadline.move, moved)
        result: DeadlineResult = await asyncio.wait_for(handle.result(), SKIP_LIMIT)

    assert result.came
    assert at_instant(result.woke_at, moved)
    # Each pass starts one timer named by its summary; the one whose deadline moved is cancelled.
    history = await timers(handle)
    assert history in (
        ['started "the deadline"', "fired"],  # the move came with the start, before any timer
        ['started "the deadline"', "cancelled", 'started "the deadline"', "fired"],
    )


async def test_the_wait_ends_before_the_deadline_once_it_is_over(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = time_skipping_env
    now = await env.get_current_time()
    async with Worker(
        env.client, task_queue=task_queue, workflows=[WaitForDeadline], workflow_runner=workflow_runner()
    ):
        handle = await env.client.start_workflow(
            WaitForDeadline.run,
            DeadlineInput(deadline=now + timedelta(days=10)),
            id=f"deadline-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        await handle.signal(WaitForDeadline.stop)
        result: DeadlineResult = await asyncio.wait_for(handle.result(), SKIP_LIMIT)

    assert not result.came
    assert result.woke_at < now + timedelta(days=1)
