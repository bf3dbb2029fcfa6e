"""End to end on the Temporal dev server, with the real adapters: the OID sandbox over HTTP (failing and
slow), PostgreSQL, and an SMTP server. Built by `worker.build_worker`, as the service builds it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.oid_contract import Faults
from activities.seal import ensure_seal
from core.settings import Settings
from devstack.smtp_sink import smtp_sink
from domain.messages import Approve
from domain.policy import Policy
from domain.request import NopicRequestForm
from domain.state import NopicRequestInput, RequestState, RequestStatus, workflow_id
from tests.support.harness import EXPORTER, REVIEWER, request_form
from tests.support.servers import RunningSandbox
from worker import build_worker
from workflows.nopic_request import NopicRequest

REQUESTS = 50
EXPORTER_ID, IMPORTER_ID = "1234567890", "9876543210"
# What is left once every request is issued (its last audit rows, a hundred messages with their PDFs) takes
# seconds; a busy machine gets a minute.
SETTLE_SECONDS = 60


@pytest.fixture
async def service(
    dev_server_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    oid_sandbox: RunningSandbox,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Path]:
    """The worker with its real adapters; yields the SMTP server's outbox."""
    oid_sandbox.add_operation(EXPORTER_ID, "Organic Trade SA")
    oid_sandbox.add_operation(IMPORTER_ID, "Green Imports Inc")
    outbox = tmp_path / "outbox"
    async with smtp_sink("127.0.0.1", 0, outbox) as smtp_port:
        settings = Settings(
            home=tmp_path,
            temporal_task_queue=task_queue,
            oid_base_url=oid_sandbox.base_url,
            oid_api_key=oid_sandbox.api_key,
            oid_timeout_seconds=2,
            # OID's failures are the point, not how long the backoff between two attempts grows.
            activity_retry_cap_seconds=1,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
        )
        ensure_seal(settings)  # the exporter's NOPIC mail carries the sealed PDFs
        worker = build_worker(dev_server_env.client, settings, db_pool)
        assert worker is not None
        async with worker:
            yield outbox


async def start(
    env: WorkflowEnvironment, task_queue: str, form: NopicRequestForm
) -> WorkflowHandle[Any, Any]:
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    return await env.client.start_workflow(
        NopicRequest.run,
        NopicRequestInput(request_id=request_id, form=form, policy=Policy(), submitted_by=EXPORTER),
        id=workflow_id(request_id),
        task_queue=task_queue,
    )


async def until(handle: WorkflowHandle[Any, Any], done: Any) -> RequestState:
    # Generous: at 30% failures a call now and then fails five or six times in a row.
    deadline = asyncio.get_running_loop().time() + 300
    while True:
        state: RequestState = await handle.query(NopicRequest.state)
        if done(state):
            return state
        assert asyncio.get_running_loop().time() < deadline, f"{handle.id} stuck in {state.status}"
        await asyncio.sleep(0.25)


async def approve(handle: WorkflowHandle[Any, Any]) -> RequestState:
    await until(handle, lambda s: s.status is RequestStatus.IN_REVIEW)
    action = Approve(action_id=f"approve-{handle.id}", actor=REVIEWER, at=datetime.now().astimezone())
    await handle.execute_update(NopicRequest.approve, action)
    return await until(
        handle,
        lambda s: s.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT or s.issuance_blocked is not None,
    )


async def test_fifty_requests_through_a_failing_oid_get_one_nopic_per_commodity(
    service: Path,
    dev_server_env: WorkflowEnvironment,
    oid_sandbox: RunningSandbox,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> None:
    oid_sandbox.set_faults(Faults(error_rate=0.3, latency_ms=30))
    now = datetime.now().astimezone()
    handles = [await start(dev_server_env, task_queue, request_form(now)) for _ in range(REQUESTS)]
    states = await asyncio.gather(*(approve(handle) for handle in handles))
    oid_sandbox.set_faults(Faults())

    # Exactly one NOPIC per commodity in OID, none twice, none missing, and the same numbers in the state.
    assert all(s.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT for s in states)
    nopics = oid_sandbox.store.list_nopics()
    assert len(nopics) == REQUESTS * 2
    for state in states:
        in_oid = sorted((n.commodity_index, n.number) for n in nopics if n.request_id == state.request_id)
        assert in_oid == [(c.commodity_index, c.number) for c in state.certificates]

    # The audit trail is each workflow's own list of changes, one to one, in order (none missing, none written
    # twice), and the reviewer's approval is in it once. The state moves on as the workflow records its last
    # change, so give that activity a moment to finish.
    expected = {s.request_id: [(h.sequence, h.action) for h in s.history] for s in states}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while True:
        recorded = await audit_trails(db_pool)
        if recorded == expected or loop.time() > deadline:
            break
        await asyncio.sleep(0.1)
    assert recorded == expected
    assert all([action for _, action in trail].count("approve") == 1 for trail in recorded.values())
    issued = await db_pool.fetchval(
        "SELECT count(*) FROM certificates WHERE status = 'issued' AND nopic_number IS NOT NULL"
    )
    assert issued == REQUESTS * 2

    # The exporter and the importer of each request each got the NOPIC data (one Message-ID per event);
    # the messages go out just after the status changes (one PDF after another), so give the last ones time.
    deadline = loop.time() + SETTLE_SECONDS
    while len(message_ids := await asyncio.to_thread(issued_message_ids, service)) < REQUESTS * 2:
        assert loop.time() < deadline, f"{len(message_ids)} of {REQUESTS * 2} NOPIC messages delivered"
        await asyncio.sleep(0.1)
    assert len(message_ids) == REQUESTS * 2


async def audit_trails(db: asyncpg.Pool) -> dict[str, list[tuple[int, str]]]:
    """(sequence, action) of every audit event, request by request, in order."""
    rows = await db.fetch(
        "SELECT request_id, sequence, action FROM audit_events ORDER BY request_id, sequence"
    )
    recorded: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        recorded.setdefault(row["request_id"], []).append((row["sequence"], row["action"]))
    return recorded


def issued_message_ids(outbox: Path) -> set[str]:
    parser = BytesParser(policy=policy.default)
    messages = (parser.parsebytes(path.read_bytes()) for path in outbox.glob("*.eml"))
    return {m["Message-ID"] for m in messages if m["X-Nopic-Kind"] == "nopic_issued"}


async def test_an_importer_that_is_not_certified_stops_issuance_with_the_reason(
    service: Path, dev_server_env: WorkflowEnvironment, oid_sandbox: RunningSandbox, task_queue: str
) -> None:
    oid_sandbox.add_operation("5555555555", "Lapsed Trading Co", status="Suspended")
    now = datetime.now().astimezone()
    form = request_form(now)
    form = form.model_copy(
        update={"importer": form.importer.model_copy(update={"operation_id": "5555555555"})}
    )
    handle = await start(dev_server_env, task_queue, form)
    state = await approve(handle)
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked is not None
    assert "importer's operation 5555555555 (Lapsed Trading Co) is 'Suspended'" in state.issuance_blocked
    assert oid_sandbox.store.list_nopics(state.request_id) == []
