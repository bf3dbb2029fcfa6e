"""kill -9 of the worker, again and again, while requests go through their whole lifecycle in `api` mode
against an OID that fails, hangs and lags: nothing is lost, nothing happens twice."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from activities.oid_contract import Faults
from tests.support.lifecycles import assert_nothing_lost_nothing_twice, run_lifecycles
from tests.support.process_stack import FaultStack, fault_stack

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_REQUESTS", "200"))
KILLS = int(os.environ.get("NOPIC_FAULTS_KILLS", "4"))
SEED = int(os.environ.get("NOPIC_FAULTS_SEED", str(random.SystemRandom().randrange(10**6))))


@pytest.fixture
async def stack() -> AsyncIterator[FaultStack]:
    # A killed worker's activities are retried after 5 s rather than their production timeouts (up to
    # 2 min), and no retry waits more than 1 s: the test measures correctness, not patience.
    async with fault_stack(
        NOPIC_ACTIVITY_TIMEOUT_CAP_SECONDS="5",
        NOPIC_ACTIVITY_RETRY_CAP_SECONDS="1",
        NOPIC_OID_TIMEOUT_SECONDS="1",
    ) as running:
        yield running


async def test_requests_survive_the_worker_killed_at_random_moments(stack: FaultStack) -> None:
    print(f"NOPIC_FAULTS_SEED={SEED} NOPIC_FAULTS_REQUESTS={REQUESTS} NOPIC_FAULTS_KILLS={KILLS}")
    rng = random.Random(SEED)
    await stack.set_oid_faults(Faults(error_rate=0.2, latency_ms=10, timeout_rate=0.02, timeout_seconds=2))
    lifecycles = asyncio.create_task(run_lifecycles(stack, REQUESTS, "kill", concurrency=32))
    kills = 0
    while kills < KILLS and not lifecycles.done():
        await asyncio.wait({lifecycles}, timeout=rng.uniform(1.0, 6.0))
        if not lifecycles.done():
            await stack.kill("worker")
            kills += 1
    ids = await lifecycles
    print(f"worker killed {kills} times")
    assert kills >= 1, "every request finished before the first kill: raise NOPIC_FAULTS_REQUESTS"
    await stack.set_oid_faults(Faults())
    await assert_nothing_lost_nothing_twice(stack, ids)
