"""Outages of what the service stands on, mid-run: the Temporal server stopped and started again (its
SQLite file kept), PostgreSQL stopped for a while, the SMTP server away for a while. Requests in flight
finish, nothing is lost, nothing happens twice; meanwhile the API answers 503 with a reason, never 500.

Mail is at least once (`assert_nothing_lost`): a message may arrive twice only where the ledger saw its send
cut off between the server's acceptance and the ledger's write, so every message not so counted must arrive
exactly once. These outages rarely cut a send off there: only the SMTP server stopped between storing a
message and answering 250 for it, or PostgreSQL away for longer than an attempt waits to write the ledger."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from devstack.supervisor import RunningChild
from tests.support.lifecycles import assert_nothing_lost, run_lifecycles
from tests.support.process_stack import FaultStack, Metrics, fault_stack

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_OUTAGE_REQUESTS", "10"))
OUTAGE_SECONDS = float(os.environ.get("NOPIC_FAULTS_OUTAGE_SECONDS", "4"))
RAN = "temporal_activity_execution_latency_count"  # activities the worker ran to an end, failed or not


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[FaultStack]:
    async with fault_stack(
        # Longer than an outage: an attempt outlasts the database's absence to write the mail ledger.
        NOPIC_ACTIVITY_TIMEOUT_CAP_SECONDS="10",
        NOPIC_ACTIVITY_RETRY_CAP_SECONDS="1",
    ) as running:
        yield running


@dataclass(frozen=True)
class Felt:
    """How the worker shows it met the outage: a counter of its SDK metrics that went up meanwhile."""

    what: str
    metrics: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)

    def count(self, metrics: Metrics) -> float:
        return sum(metrics.total(name, **self.labels) for name in self.metrics)


async def through_an_outage(
    stack: FaultStack,
    tag: str,
    down: Callable[[], Awaitable[None]],
    up: Callable[[], Awaitable[None]],
    felt: Felt,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """Requests start, the outage begins once they are under way, lasts a while, ends; the worker felt it
    (`felt` went up while it lasted: the fault was hit, not slept through); they all finish."""
    ran_before = (await stack.worker_metrics()).total(RAN)
    lifecycles = asyncio.create_task(run_lifecycles(stack, REQUESTS, tag, concurrency=5))
    # Under way: the worker has run activities of these requests (on a loaded machine that takes longer
    # than any fixed pause would promise).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await stack.worker_metrics()).total(RAN) == ran_before:
        assert not lifecycles.done(), lifecycles.result()
        assert loop.time() < deadline, "the requests never got under way"
        await asyncio.sleep(0.1)
    before = felt.count(await stack.worker_metrics())
    await down()
    try:
        if meanwhile is not None:
            await meanwhile()
        await asyncio.sleep(OUTAGE_SECONDS)
    finally:
        await up()
    during = felt.count(await stack.worker_metrics()) - before
    print(f"{tag}: {during:.0f} {felt.what} while it was away")
    assert during > 0, f"the outage was never hit: no {felt.what} while it lasted"
    ids = await lifecycles
    print(await assert_nothing_lost(stack, ids))
    return ids


def child_away(stack: FaultStack, name: str) -> tuple[Callable[[], Awaitable[None]], ...]:
    """Stop one process of the stack (SIGTERM, as the supervisor does), and start it again."""
    stopped: list[RunningChild] = []

    async def down() -> None:
        stopped.append(await stack.stop(name))

    async def up() -> None:
        await stack.start(stopped.pop())

    return down, up


async def test_temporal_stopped_and_started_again_loses_nothing(stack: FaultStack) -> None:
    async def engine_unavailable() -> None:
        async with stack.client(stack.reviewer) as http:
            answer = await http.get(f"/requests/{'R00000000-00000000'}")
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "engine_unavailable"

    # The worker's calls to the server (its polls, the completions of activities it ran) fail meanwhile.
    calls_failed = Felt(
        "calls to Temporal failed", ("temporal_long_request_failure", "temporal_request_failure")
    )
    try:
        await through_an_outage(
            stack, "temporal", *child_away(stack, "temporal"), calls_failed, engine_unavailable
        )
    except AssertionError:
        wedged = await wedged_by_the_sdk(stack)
        if wedged:
            pytest.xfail(
                f"{len(wedged)} request(s) wedged after the restart by the SDK's update state machine "
                f"({ENGINE_WEDGE}), every later workflow task failing: {', '.join(wedged)}"
            )
        raise


# The one failure this test knows is not ours (README, "Known limitations"): across a server restart, an
# update the worker had accepted and completed in one workflow task comes again with the same id, and the SDK
# core refuses its own transition. Only a workflow task failure with exactly this message turns a failure
# into an expected one; anything else fails the test.
ENGINE_WEDGE = "Invalid transition while handling update response"


async def wedged_by_the_sdk(stack: FaultStack) -> list[str]:
    """The open request workflows whose history holds a workflow task failed with `ENGINE_WEDGE`."""
    client = await stack.temporal()
    wedged = []
    async for execution in client.list_workflows("ExecutionStatus = 'Running'"):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if not event.HasField("workflow_task_failed_event_attributes"):
                continue
            if ENGINE_WEDGE in str(event.workflow_task_failed_event_attributes.failure):
                wedged.append(execution.id)
                break
    return wedged


async def test_postgres_away_for_a_while_loses_nothing_and_the_api_says_503(stack: FaultStack) -> None:
    async def database_unavailable() -> None:
        async with stack.client(stack.reviewer) as http:
            answer = await http.get("/requests")
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "database does not answer" in error["message"]

    records_failed = Felt(
        "records activities failed",
        ("temporal_activity_execution_failed",),
        {"activity_type": "record_change"},
    )
    await through_an_outage(
        stack, "postgres", stack.stop_postgres, stack.start_postgres, records_failed, database_unavailable
    )


async def test_smtp_away_for_a_while_delivers_every_message_once_after(stack: FaultStack) -> None:
    mail_failed = Felt(
        "notifications failed", ("temporal_activity_execution_failed",), {"activity_type": "notify"}
    )
    await through_an_outage(stack, "smtp", *child_away(stack, "smtp_sink"), mail_failed)
