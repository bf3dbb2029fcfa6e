"""A tiny timer-driven workflow with one activity, for tests of the test fixtures and of logging.

Kept in an importable module: the workflow sandbox cannot validate workflows defined in a test's `__main__`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy


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
