"""kill -9 of the worker, again and again, while requests go through their whole lifecycle in `api` mode
against an OID that fails, hangs and lags: nothing is lost, nothing happens twice, except what SMTP cannot
promise. Mail is at least once: a kill that lands after the server took a message and before the ledger
recorded it makes the retry send the message again, the same message (same Message-ID). So the test asserts
that every message arrived, that every repeat is an identical copy the ledger counted as a possible repeat,
and that repeats are no more than the sends a kill cut off (the ledger's marks of sends begun and not yet
recorded as sent, looked at while the worker lies dead).

Besides the lifecycles to `active`, two kinds of request run through the same kills and faults: reviewer
cancellations (one NOPIC of two, then the other) and partial issuance (OID refuses one commodity of two:
the other's NOPIC issued once, issuance stopped, approved again, stopped again). Each kill lands while the
worker has activities in hand (its SDK metrics say so just before), and the histories show activities run
again after their attempt timed out with the killed worker.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator

import pytest

from activities.oid_contract import Faults
from tests.support.lifecycles import (
    CANCELLATION_MAIL,
    PARTIAL_ISSUANCE_MAIL,
    Outcome,
    assert_nothing_lost,
    cancellation_actions,
    partial_issuance_actions,
    run_cancellations,
    run_lifecycles,
    run_partial_issuances,
    sends_in_flight,
)
from tests.support.process_stack import FaultStack, fault_stack

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_REQUESTS", "60"))
KILLS = int(os.environ.get("NOPIC_FAULTS_KILLS", "4"))
SEED = int(os.environ.get("NOPIC_FAULTS_SEED", str(random.SystemRandom().randrange(10**6))))
# A tenth as many of each other kind: cancelled by the reviewer, issued in part.
OTHERS = max(2, REQUESTS // 10)
REFUSED_HTS_CODE = "0802120000"  # shelled almonds: OID refuses this commodity of the partial issuances


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


async def activities_in_hand(stack: FaultStack, patience: float = 3.0) -> float:
    """How many activities the worker runs, once it runs any (0 if none within `patience` seconds)."""
    deadline = asyncio.get_running_loop().time() + patience
    while asyncio.get_running_loop().time() < deadline:
        metrics = await stack.worker_metrics()
        busy = metrics.total("temporal_worker_task_slots_used", worker_type="ActivityWorker")
        if busy > 0:
            return busy
        await asyncio.sleep(0.02)
    return 0.0


async def test_requests_survive_the_worker_killed_at_random_moments(stack: FaultStack) -> None:
    print(f"NOPIC_FAULTS_SEED={SEED} NOPIC_FAULTS_REQUESTS={REQUESTS} NOPIC_FAULTS_KILLS={KILLS}")
    rng = random.Random(SEED)
    faults = Faults(error_rate=0.2, latency_ms=10, timeout_rate=0.02, timeout_seconds=2)
    await stack.set_oid_faults(faults.model_copy(update={"refused_hts_codes": [REFUSED_HTS_CODE]}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    everything = asyncio.gather(
        run_lifecycles(stack, REQUESTS, "kill", concurrency=32),
        run_cancellations(stack, OTHERS, "kill-cancel"),
        run_partial_issuances(stack, OTHERS, "kill-partial", REFUSED_HTS_CODE),
    )
    kills = kills_mid_send = 0
    cut_off: set[tuple[str, int]] = set()  # (event id, attempt) of each send a kill cut off
    in_hand_at_kills: list[float] = []
    while kills < KILLS and not everything.done():
        await asyncio.wait({everything}, timeout=rng.uniform(1.0, 6.0))
        if everything.done():
            break
        in_hand = await activities_in_hand(stack)
        if not in_hand:
            continue  # nothing under way right now: a kill here would prove nothing
        dead = await stack.kill("worker", restart=False)
        in_flight = await sends_in_flight(stack)
        await stack.start(dead)
        kills += 1
        in_hand_at_kills.append(in_hand)
        kills_mid_send += bool(in_flight)
        cut_off |= in_flight
        print(
            f"kill {kills} at {loop.time() - started:.1f} s: {in_hand:.0f} activities in hand, "
            f"{len(in_flight)} sends in flight"
        )
    active, cancelled, partial = await everything
    print(
        f"worker killed {kills} times, each with activities in hand ({in_hand_at_kills}), {kills_mid_send} "
        f"of them while a send was in flight ({len(cut_off)} sends cut off)"
    )
    assert kills >= 1, "every request finished before the first kill: raise NOPIC_FAULTS_REQUESTS"
    await stack.set_oid_faults(Faults())

    outcomes: list[Outcome] = [
        await assert_nothing_lost(stack, active),
        await assert_nothing_lost(
            stack, cancelled, status="cancelled", mail=CANCELLATION_MAIL, actions=cancellation_actions
        ),
        await assert_nothing_lost(
            stack, partial, status="in_review", mail=PARTIAL_ISSUANCE_MAIL, actions=partial_issuance_actions
        ),
    ]
    for outcome in outcomes:
        print(outcome, *(f"\n  repeated: {event_id}" for event_id in outcome.mail.repeated), sep="")
    # The kills cut activities off: each ran again once its attempt, with the dead worker, timed out.
    assert sum(o.history.interrupted for o in outcomes) >= 1, "no kill interrupted an activity"
    # One kill may cut off several sends at once; each can repeat its message once at most.
    repeats = sum(o.mail.repeats for o in outcomes)
    assert repeats <= len(cut_off), f"{repeats} repeats, but kills cut off only {len(cut_off)} sends"
    repeated = {event_id for o in outcomes for event_id in o.mail.repeated}
    cut_off_events = {event_id for event_id, _ in cut_off}
    assert repeated <= cut_off_events, (
        f"repeats of messages whose send no kill cut off: {sorted(repeated - cut_off_events)}"
    )
