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
from datetime import UTC, datetime

import pytest

from devstack.supervisor import RunningChild
from domain.messages import Approve
from domain.state import Actor, Role
from starter.client import EngineUnavailable, RequestClient
from tests.support.lifecycles import (
    RETRY_FOR,
    assert_nothing_lost,
    call,
    run_lifecycles,
    submitted,
    supporting_documents,
    transport_document,
    until_state,
)
from tests.support.process_stack import FaultStack, Metrics, fault_stack
from tests.support.stack import first_shipment, request_body

pytestmark = pytest.mark.faults

REQUESTS = int(os.environ.get("NOPIC_FAULTS_OUTAGE_REQUESTS", "10"))
OUTAGE_SECONDS = float(os.environ.get("NOPIC_FAULTS_OUTAGE_SECONDS", "4"))
FELT_WITHIN = 60.0  # seconds an outage goes on past OUTAGE_SECONDS for the worker to meet it
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
    afterwards: Callable[[], Awaitable[list[str]]] | None = None,
) -> list[str]:
    """Requests start, the outage begins once they are under way, lasts a while and until the worker felt
    it (`felt` went up: the fault was hit, not slept through), ends; they all finish, and so do the requests
    `afterwards` takes to their end."""
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
        deadline = loop.time() + FELT_WITHIN
        while loop.time() < deadline:
            if felt.count(await stack.worker_metrics()) > before:
                break
            await asyncio.sleep(0.2)
    finally:
        await up()
    during = felt.count(await stack.worker_metrics()) - before
    print(f"{tag}: {during:.0f} {felt.what} while it was away")
    assert during > 0, f"the outage was never hit: no {felt.what} in {OUTAGE_SECONDS + FELT_WITHIN:.0f} s"
    ids = await lifecycles
    if afterwards is not None:
        ids += await afterwards()
    print(await assert_nothing_lost(stack, ids))
    return ids


def child_away(
    stack: FaultStack, name: str
) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
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
    # The API stops with the database, and so do the driver's requests: the worker could sit the outage out
    # idle. One request waits checked in, and a reviewer approves it from the command line meanwhile (that
    # path needs no database), so the worker has an approval to record while the database is away.
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        body = request_body(documents=await supporting_documents(exporter), product="Organic mango held")
        held = await submitted(exporter, reviewer, body, "postgres-held")
    requests = RequestClient(await stack.temporal(), stack.settings.temporal_task_queue)
    approval: list[asyncio.Task[None]] = []

    async def approve_held() -> None:
        by = Actor(person_id=stack.reviewer.username, name="Rita", role=Role.REVIEWER)
        action = Approve(action_id=f"approve-{held}", actor=by, at=datetime.now(UTC))
        deadline = asyncio.get_running_loop().time() + RETRY_FOR
        while True:
            try:
                await requests.act(held, action)  # the same action id again changes nothing
                return
            except EngineUnavailable:
                assert asyncio.get_running_loop().time() < deadline, f"{held} was never approved"
                await asyncio.sleep(0.3)

    async def database_unavailable() -> None:
        async with stack.client(stack.reviewer) as http:
            answer = await http.get("/requests")
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "database does not answer" in error["message"]
        approval.append(asyncio.create_task(approve_held()))

    async def finish_held() -> list[str]:
        await approval.pop()
        async with stack.client(stack.exporter) as exporter:
            await until_state(
                exporter, held, lambda s: s["status"] == "awaiting_transport_document", "issued"
            )
            bill = await transport_document(exporter)
            action = {"action_id": f"transport-{held}", "document": bill, **first_shipment()}
            await call(exporter, "POST", f"/requests/{held}/actions/transport-document", json=action)
            await until_state(exporter, held, lambda s: s["status"] == "active", "active")
        return [held]

    # A local activity since the `perf-records-local-activity` patch; each failed attempt counts.
    records_failed = Felt(
        "records activities failed",
        ("temporal_local_activity_execution_failed", "temporal_activity_execution_failed"),
        {"activity_type": "record_change"},
    )
    await through_an_outage(
        stack,
        "postgres",
        stack.stop_postgres,
        stack.start_postgres,
        records_failed,
        database_unavailable,
        finish_held,
    )


async def test_smtp_away_for_a_while_delivers_every_message_once_after(stack: FaultStack) -> None:
    mail_failed = Felt(
        "notifications failed", ("temporal_activity_execution_failed",), {"activity_type": "send_queued"}
    )
    await through_an_outage(stack, "smtp", *child_away(stack, "smtp_sink"), mail_failed)
