"""kill -9 of the worker, again and again, while requests go through manual issuance (no OID endpoint at all):
every confirmation is recorded exactly once, and no NOPIC to cancel in OID drops off the list by a restart."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from tests.support.audit_history import assert_audit_is_the_workflows_history
from tests.support.lifecycles import (
    assert_every_message_delivered,
    live_states,
    sends_in_flight,
)
from tests.support.manual_lifecycles import (
    MANUAL_LIFECYCLE_MAIL,
    actions_recorded,
    run_manual_lifecycles,
    to_cancel,
)
from tests.support.process_stack import FaultStack, fault_stack

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_MANUAL_REQUESTS", "30"))
KILLS = int(os.environ.get("NOPIC_FAULTS_KILLS", "4"))
SEED = int(os.environ.get("NOPIC_FAULTS_SEED", str(random.SystemRandom().randrange(10**6))))
ONCE = ("confirm_operations", "record_certificate_number", "cancel_certificates", "record_cancellation")


@pytest.fixture
async def stack() -> AsyncIterator[FaultStack]:
    async with fault_stack(
        NOPIC_ISSUANCE_MODE="manual",
        NOPIC_OID_SANDBOX="false",
        NOPIC_OID_BASE_URL="http://127.0.0.1:9",
        NOPIC_ACTIVITY_TIMEOUT_CAP_SECONDS="5",
        NOPIC_ACTIVITY_RETRY_CAP_SECONDS="1",
    ) as running:
        yield running


async def test_manual_lifecycles_survive_the_worker_killed_at_random_moments(stack: FaultStack) -> None:
    print(f"NOPIC_FAULTS_SEED={SEED} NOPIC_FAULTS_MANUAL_REQUESTS={REQUESTS} NOPIC_FAULTS_KILLS={KILLS}")
    rng = random.Random(SEED)

    async def reviewer_takes_a_while() -> None:  # staff cancel in OID before confirming: tasks pile up
        await asyncio.sleep(rng.uniform(0.0, 4.0))

    driving = run_manual_lifecycles(stack, REQUESTS, "killed", concurrency=16, between=reviewer_takes_a_while)
    lifecycles = asyncio.create_task(driving)
    kills, lost, with_tasks = 0, [], 0
    cut_off: set[tuple[str, int]] = set()  # (event id, attempt) of each send a kill cut off
    async with stack.client(stack.reviewer) as reviewer:
        while kills < KILLS and not lifecycles.done():
            await asyncio.wait({lifecycles}, timeout=rng.uniform(1.0, 6.0))
            before = await to_cancel(reviewer)
            # The second half of the kills waits for tasks on the list, so a restart meets some.
            while kills >= KILLS // 2 and not before and not lifecycles.done():
                await asyncio.wait({lifecycles}, timeout=0.2)
                before = await to_cancel(reviewer)
            if lifecycles.done():
                break
            with_tasks += bool(before)
            dead = await stack.kill("worker", restart=False)
            cut_off |= await sends_in_flight(stack)
            after_kill = await to_cancel(reviewer)
            await stack.start(dead)
            kills += 1
            after = await to_cancel(reviewer) & after_kill
            # A task leaves the list only once a reviewer confirmed it (the driver goes on meanwhile).
            gone = sorted(request_id for request_id, _ in before - after)
            confirmed = await actions_recorded(stack, gone)
            lost += [r for r in gone if "record_cancellation" not in confirmed[r]]
            print(f"kill {kills}: {len(before)} listed before, {len(after)} after, {len(gone)} confirmed")
    ids = await lifecycles
    print(f"worker killed {kills} times")
    assert kills >= 1, "every request finished before the first kill: raise NOPIC_FAULTS_MANUAL_REQUESTS"
    assert with_tasks >= 1, "no kill met a cancellation on the list: raise NOPIC_FAULTS_MANUAL_REQUESTS"
    assert not lost, f"cancellations to make in OID dropped off the list by a restart: {lost}"

    states = await live_states(stack, ids)
    assert {s["status"] for s in states.values()} == {"cancelled"}
    # The audit trail is each workflow's own history, one to one, and each action the driver sent is in it
    # exactly once.
    sent = ("approve", "confirm", "number", "transport", "cancel", "cancelled")
    await assert_audit_is_the_workflows_history(
        stack, states, lambda request_id: [f"{what}-{request_id}" for what in sent]
    )
    for request_id, actions in (await actions_recorded(stack, ids)).items():
        for action in ONCE:
            assert actions.count(action) == 1, (request_id, action, actions)
    async with stack.client(stack.reviewer) as reviewer:
        assert not {request_id for request_id, _ in await to_cancel(reviewer)} & set(ids)
    # Mail is at least once: every message there, a repeat only of a send a kill cut off.
    mail = await assert_every_message_delivered(stack, ids, MANUAL_LIFECYCLE_MAIL)
    print(mail)
    assert set(mail.repeated) <= {event_id for event_id, _ in cut_off}, mail.repeated
