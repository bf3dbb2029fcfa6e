"""The shared Temporal fixtures behave as the rest of the suite relies on."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.support.workflows import StampInput, WaitThenStamp, stamp_checklist
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


async def test_time_skipping_server_lets_a_day_pass_at_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    started = time.monotonic()
    async with Worker(client, task_queue=task_queue, workflows=[WaitThenStamp], activities=[stamp_checklist]):
        result = await client.execute_workflow(
            WaitThenStamp.run, StampInput(request_id="R-1"), id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )

    assert result.waited >= timedelta(days=1)
    assert result.stamp == "checked R-1"
    # Skipped, not waited: however busy the machine, a day goes by in far less than a hundredth of it.
    assert time.monotonic() - started < result.waited.total_seconds() / 100


async def test_dev_server_has_the_service_search_attributes(dev_server_env: WorkflowEnvironment) -> None:
    client = dev_server_env.client
    registered = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    assert {key.name for key in SEARCH_ATTRIBUTES} <= set(registered.custom_attributes)
