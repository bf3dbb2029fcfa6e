"""Manual issuance against the whole stack as `nopic up` runs it, as production does: no OID sandbox process,
the OID gateway's URL pointing where nothing answers, and yet requests go from submission to active and,
through the cancellation tasks, to cancelled; a number another request holds is refused within a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.lifecycles import assert_every_message_delivered, call, supporting_documents
from tests.support.manual_lifecycles import (
    CANCEL_REASON,
    MANUAL_LIFECYCLE_MAIL,
    act,
    actions_recorded,
    nopic_number,
    run_manual_lifecycles,
    to_cancel,
    until,
)
from tests.support.process_stack import FaultStack, fault_stack
from tests.support.stack import COMPLETE, request_body

pytestmark = pytest.mark.stack

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
async def stack() -> AsyncIterator[FaultStack]:
    async with fault_stack(
        NOPIC_ISSUANCE_MODE="manual", NOPIC_OID_SANDBOX="false", NOPIC_OID_BASE_URL=NOWHERE
    ) as running:
        yield running


async def test_manual_issuance_needs_no_oid_endpoint_from_submission_to_cancelled(stack: FaultStack) -> None:
    assert "oid_sandbox" not in {running.child.name for running in stack.stack.running}
    assert stack.settings.oid_url == NOWHERE
    listed: list[set[tuple[str, str]]] = []

    async def look_at_the_queue() -> None:
        async with stack.client(stack.reviewer) as reviewer:
            listed.append(await to_cancel(reviewer))

    ids = await run_manual_lifecycles(stack, 3, "stack", concurrency=3, between=look_at_the_queue)
    # Each request's NOPIC was in "To cancel in OID" while it waited for its confirmation.
    seen = set().union(*listed)
    assert {(request_id, nopic_number(i)) for i, request_id in enumerate(ids)} <= seen
    async with stack.client(stack.reviewer) as reviewer:
        assert not {request_id for request_id, _ in await to_cancel(reviewer)} & set(ids)
        for request_id in ids:
            state = (await call(reviewer, "GET", f"/requests/{request_id}"))["state"]
            assert state["status"] == "cancelled" and state["outcome"] == CANCEL_REASON
            assert [c["status"] for c in state["certificates"]] == ["cancelled"]
    for request_id, actions in (await actions_recorded(stack, ids)).items():
        assert actions[:3] == ["received", "documents_checked", "approve"], request_id
        for once in ("confirm_operations", "record_certificate_number", "cancel_certificates"):
            assert actions.count(once) == 1, (request_id, actions)
        assert actions[-1] == "record_cancellation", (request_id, actions)
    # Every message of each lifecycle, the task to cancel and the cancellation's news among them, once each.
    mail = await assert_every_message_delivered(stack, ids, MANUAL_LIFECYCLE_MAIL)
    assert mail.repeats == 0, mail
    messages = await asyncio.to_thread(stack.messages, set(ids))
    assert sorted(m.audience_and_kind for m in messages if m.event_id.endswith(":cancellation")) == (
        [("exporter", "cancellation")] * len(ids) + [("importer", "cancellation")] * len(ids)
    )


async def test_a_number_another_request_holds_is_refused_within_a_second_and_that_request_answers(
    stack: FaultStack,
) -> None:
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        documents = await supporting_documents(exporter)
        assert len(documents) == len(COMPLETE)
        ids = []
        for index in range(2):
            body = request_body(documents=documents, product=f"Organic dates {index}")
            ids.append((await call(exporter, "POST", "/requests", json=body))["id"])
        for request_id in ids:
            await until(reviewer, request_id, lambda s: s["status"] == "in_review", "in review")
            await act(reviewer, request_id, "approve", f"approve-{request_id}")
            await until(
                reviewer,
                request_id,
                lambda s: (s["operations_check"] or {}).get("status") == "to_confirm",
                "awaiting the operations check",
            )
            await act(reviewer, request_id, "confirm-operations", f"confirm-{request_id}", note="Certified")
        holder, other = ids
        number = nopic_number(500)
        await act(reviewer, holder, "record-certificate", f"n-{holder}", commodity_index=0, number=number)

        loop = asyncio.get_running_loop()
        started = loop.time()
        refused = await reviewer.post(
            f"/requests/{other}/actions/record-certificate", json={"commodity_index": 0, "number": number}
        )
        took = loop.time() - started
        assert refused.status_code == 409, refused.text
        assert f"{number} is already recorded for request {holder} (commodity 0" in refused.text
        assert took < 1.0, f"refused after {took:.2f} s"
        started = loop.time()
        answered = await reviewer.get(f"/requests/{holder}")
        assert answered.status_code == 200 and loop.time() - started < 1.0
        await until(reviewer, holder, lambda s: s["status"] == "awaiting_transport_document", "issued")
        own = nopic_number(501)
        await act(reviewer, other, "record-certificate", f"number-{other}", commodity_index=0, number=own)
        await until(reviewer, other, lambda s: s["status"] == "awaiting_transport_document", "issued")
