"""Two workers on one task queue, as `docker compose up --scale worker=2` runs them: both take work, one is
killed with kill -9 for good mid-run, and the other finishes every request, the killed one's activities
included once their attempts time out. Nothing is lost, nothing happens twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from activities.oid_contract import Faults
from tests.support.lifecycles import assert_nothing_lost, run_lifecycles
from tests.support.process_stack import FaultStack, fault_stack

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_TWO_WORKERS_REQUESTS", "30"))
RAN = "temporal_activity_execution_latency_count"  # activities a worker ran to an end, failed or not


@pytest.fixture
async def stack() -> AsyncIterator[FaultStack]:
    # The killed worker's activities go to the other after 5 s rather than their production timeouts.
    async with fault_stack(
        NOPIC_ACTIVITY_TIMEOUT_CAP_SECONDS="5", NOPIC_ACTIVITY_RETRY_CAP_SECONDS="1"
    ) as running:
        yield running


async def ran(stack: FaultStack, worker: str) -> float:
    return (await stack.worker_metrics(worker)).total(RAN)


async def test_one_of_two_workers_killed_for_good_the_other_finishes_every_request(stack: FaultStack) -> None:
    await stack.add_worker("worker-2")
    # OID answers after 300 ms, so a worker seen with activities in hand still has them when the kill lands
    # a few milliseconds later (without it, one may finish in between and nothing is left to run again).
    await stack.set_oid_faults(Faults(latency_ms=300))
    batches = [asyncio.create_task(run_lifecycles(stack, REQUESTS, "two-0", concurrency=16))]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    # Both take work from the queue; the first is killed while it has activities in hand. A batch that
    # ends before that moment came (a fast machine, a sample between activities) is followed by another.
    while True:
        first = await stack.worker_metrics("worker")
        in_hand = first.total("temporal_worker_task_slots_used", worker_type="ActivityWorker")
        second_ran = await ran(stack, "worker-2")
        if first.total(RAN) > 0 and second_ran > 0 and in_hand > 0:
            break
        assert loop.time() < deadline, (
            f"the two workers never both had work: the first ran {first.total(RAN):.0f} activities, "
            f"the other {second_ran:.0f}; the first never seen with one in hand: {in_hand == 0}"
        )
        if batches[-1].done():
            batches[-1].result()  # a batch that failed fails the test now
            batch = run_lifecycles(stack, REQUESTS, f"two-{len(batches)}", concurrency=16)
            batches.append(asyncio.create_task(batch))
        await asyncio.sleep(0.02)
    await stack.kill("worker", restart=False)
    second_at_kill = await ran(stack, "worker-2")
    print(f"worker killed for good with {in_hand:.0f} activities in hand, {first.total(RAN):.0f} run")

    ids = [request_id for batch in await asyncio.gather(*batches) for request_id in batch]
    await stack.set_oid_faults(Faults())
    second = await ran(stack, "worker-2")
    print(f"the other ran {second - second_at_kill:.0f} activities after the kill ({len(batches)} batches)")
    assert second > second_at_kill, "the remaining worker did none of the work left"
    outcome = await assert_nothing_lost(stack, ids)
    print(outcome)
    assert outcome.history.interrupted >= 1, "none of the killed worker's activities ran again elsewhere"
