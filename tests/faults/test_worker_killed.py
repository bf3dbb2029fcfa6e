"""kill -9 of the worker, again and again, while requests go through their whole lifecycle in `api` mode
against an OID that fails, hangs and lags: nothing is lost, nothing happens twice, except what SMTP cannot
promise. Mail is at least once: a kill that lands after the server took a message and before the ledger
recorded it makes the retry send the message again, the same message (same Message-ID). So the test asserts
that every message arrived, that every repeat is an identical copy the ledger counted as a possible repeat,
and that repeats are no more than the sends a kill cut off (the ledger's marks of sends begun and not yet
recorded as sent, looked at while the worker lies dead)."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from activities.oid_contract import Faults
from tests.support.lifecycles import assert_nothing_lost, run_lifecycles, sends_in_flight
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
    loop = asyncio.get_running_loop()
    started = loop.time()
    lifecycles = asyncio.create_task(run_lifecycles(stack, REQUESTS, "kill", concurrency=32))
    kills = kills_mid_send = 0
    cut_off: set[tuple[str, int]] = set()  # (event id, attempt) of each send a kill cut off
    while kills < KILLS and not lifecycles.done():
        await asyncio.wait({lifecycles}, timeout=rng.uniform(1.0, 6.0))
        if not lifecycles.done():
            dead = await stack.kill("worker", restart=False)
            in_flight = await sends_in_flight(stack)
            await stack.start(dead)
            kills += 1
            kills_mid_send += bool(in_flight)
            cut_off |= in_flight
            print(f"kill {kills} at {loop.time() - started:.1f} s: {len(in_flight)} sends in flight")
    ids = await lifecycles
    print(
        f"worker killed {kills} times, {kills_mid_send} of them while a send was in flight "
        f"({len(cut_off)} sends cut off)"
    )
    assert kills >= 1, "every request finished before the first kill: raise NOPIC_FAULTS_REQUESTS"
    await stack.set_oid_faults(Faults())
    mail = await assert_nothing_lost(stack, ids)
    print(mail, *(f"\n  repeated: {event_id}" for event_id in mail.repeated), sep="")
    # One kill may cut off several sends at once; each can repeat its message once at most.
    assert mail.repeats <= len(cut_off), f"{mail}, but kills cut off only {len(cut_off)} sends"
    cut_off_events = {event_id for event_id, _ in cut_off}
    assert set(mail.repeated) <= cut_off_events, (
        f"repeats of messages whose send no kill cut off: {sorted(set(mail.repeated) - cut_off_events)}"
    )
