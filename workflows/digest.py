"""`DailyDigest`: the review team's morning mail, started by a Temporal Schedule (`starter.schedules`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.digest import CollectDigestInput, DigestActivities
    from activities.notifications import NotificationUndeliverable, Sent
    from domain.policy import Policy


class DailyDigestInput(BaseModel):
    """Fixed when the schedule is created or updated, from settings."""

    policy: Policy


@workflow.defn(name="DailyDigest")
class DailyDigest:
    @workflow.run
    async def run(self, input: DailyDigestInput) -> Sent:
        digest = await workflow.execute_activity_method(
            DigestActivities.collect_digest,
            CollectDigestInput(as_of=workflow.now(), policy=input.policy),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        return await workflow.execute_activity_method(
            DigestActivities.send_digest,
            digest,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(
                maximum_interval=timedelta(minutes=5),
                non_retryable_error_types=[NotificationUndeliverable.error_type],
            ),
        )
