"""Tiny workflows for tests: one timer and one activity (the test fixtures, logging), and one waiting on a
movable deadline (the workflow's `deadline.py`, alone).

Kept in an importable module: the workflow sandbox cannot validate workflows defined in a test's `__main__`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from workflows.nopic_request.deadline import MovableDeadline


class StampInput(BaseModel):
    request_id: str


class StampResult(BaseModel):
    waited: timedelta
    stamp: str


@activity.defn
async def stamp_checklist(input: StampInput) -> str:
    activity.logger.info("checklist stamped")
    return f"checked {input.request_id}"


@workflow.defn
class WaitThenStamp:
    """Waits one day of workflow time, then stamps the checklist."""

    @workflow.run
    async def run(self, input: StampInput) -> StampResult:
        start = workflow.now()
        workflow.logger.info("waiting a day")
        await workflow.sleep(timedelta(days=1))
        stamp = await workflow.execute_activity(
            stamp_checklist,
            input,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        workflow.logger.info("day over, checklist stamped")
        return StampResult(waited=workflow.now() - start, stamp=stamp)


class DeadlineInput(BaseModel):
    deadline: datetime


class DeadlineResult(BaseModel):
    came: bool
    woke_at: datetime


@workflow.defn
class WaitForDeadline:
    """Sleeps until a deadline that the `move` signal moves; the `stop` signal ends the wait."""

    @workflow.init
    def __init__(self, input: DeadlineInput) -> None:
        self.deadline = input.deadline
        self.stopped = False

    @workflow.signal
    def move(self, deadline: datetime) -> None:
        self.deadline = deadline

    @workflow.signal
    def stop(self) -> None:
        self.stopped = True

    @workflow.run
    async def run(self, input: DeadlineInput) -> DeadlineResult:
        deadline = MovableDeadline(lambda: self.deadline, over=lambda: self.stopped)
        came = await deadline.sleep("the deadline")
        return DeadlineResult(came=came, woke_at=workflow.now())
