"""`CollectUnreferencedDocuments`: once a day (a Temporal Schedule, `starter.schedules`), the stored files
no request refers to, older than the grace period, are removed (`activities.collector`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.collector import Collected, CollectInput, DocumentCollector


class CollectDocumentsInput(BaseModel):
    """Fixed when the schedule is created or updated, from settings."""

    grace: timedelta = Field(description="How long a stored file no request refers to is kept.")


@workflow.defn(name="CollectUnreferencedDocuments")
class CollectUnreferencedDocuments:
    @workflow.run
    async def run(self, input: CollectDocumentsInput) -> Collected:
        return await workflow.execute_activity_method(
            DocumentCollector.collect_unreferenced_documents,
            CollectInput(older_than=workflow.now() - input.grace),
            # A batch of files is a few seconds; a store of many thousands may take minutes.
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=10),
        )
