"""Manual issuance over the HTTP API and the CLI, against the whole service: the reviewer confirms both
operations, staff record the numbers (one request's only), cancellations are tasks listed until confirmed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.support.cli import nopic
from tests.support.stack import ApiStack, complete_request, first_shipment, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def act(http: httpx.AsyncClient, request_id: str, action: str, **body: Any) -> dict[str, Any]:
    answer = await http.post(f"/requests/{request_id}/actions/{action}", json=body)
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


async def issuing(stack: ApiStack, tag: str, product: str) -> str:
    """A complete request, approved and its operations confirmed: numbers may be recorded."""
    request_id: str = (await complete_request(stack, tag, product=product))["id"]
    async with stack.client(stack.reviewer) as http:
        state = await act(http, request_id, "approve")
        assert state["status"] == "issuing"
        for _ in range(100):
            state = (await http.get(f"/requests/{request_id}")).json()["state"]
            if state["operations_check"]:
                break
            await asyncio.sleep(0.1)
        assert state["operations_check"]["status"] == "to_confirm"
        await act(http, request_id, "confirm-operations", note="Certified in OID's public search")
    return request_id


async def test_manual_lifecycle_to_active_then_cancelled_once_each_cancellation_is_confirmed(
    manual_stack: ApiStack,
) -> None:
    stack = manual_stack
    request_id = await issuing(stack, "manual-life", "Organic dried apricots")
    async with stack.client(stack.reviewer) as http:
        detail = (await http.get(f"/requests/{request_id}")).json()
        [confirmed] = [e for e in detail["audit"] if e["action"] == "confirm_operations"]
        assert confirmed["actor_name"] == "Rita" and confirmed["actor_role"] == "reviewer"
        assert confirmed["payload"]["detail"].endswith("Certified in OID's public search")

        await act(http, request_id, "record-certificate", commodity_index=0, number="026-1000000001-000301")
        state = await wait_for(http, request_id, "awaiting_transport_document")
        reference = state["form"]["documents"][0] | {"kind": "transport_document_definitive"}
        state = await act(http, request_id, "transport-document", document=reference, **first_shipment())
        assert state["status"] == "active"

        state = await act(http, request_id, "cancel-certificates", reason="lot failed analysis")
        assert state["status"] == "cancelling"
        assert state["certificates"][0]["status"] == "cancellation_pending"
        queue = (await http.get("/certificates")).json()
        [task] = [t for t in queue if t["request_id"] == request_id]
        assert task["nopic_number"] == "026-1000000001-000301"
        assert task["product_name"] == "Organic dried apricots"
        assert task["cancel_reason"] == "lot failed analysis"

    listed = await nopic(stack, stack.reviewer, "to-cancel")
    assert listed.exit_code == 0, listed.output
    assert "026-1000000001-000301" in listed.stdout and "lot failed analysis" in listed.stdout
    confirm = ("record-cancellation", request_id, "--commodity", "0", "--note", "done in OID", "--json")
    done = await nopic(stack, stack.reviewer, *confirm)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "cancelled"
    async with stack.client(stack.reviewer) as http:
        assert request_id not in {t["request_id"] for t in (await http.get("/certificates")).json()}
        cancelled = await http.get("/certificates", params={"status": "cancelled"})
        assert request_id in {t["request_id"] for t in cancelled.json()}


async def test_a_number_another_request_holds_is_refused_at_once_naming_it(manual_stack: ApiStack) -> None:
    stack = manual_stack
    first = await issuing(stack, "manual-first", "Organic figs")
    second = await issuing(stack, "manual-second", "Organic dates")
    number = "026-1000000001-000302"
    async with stack.client(stack.reviewer) as http:
        await act(http, first, "record-certificate", commodity_index=0, number=number)
        loop = asyncio.get_running_loop()
        started = loop.time()
        refused = await http.post(
            f"/requests/{second}/actions/record-certificate", json={"commodity_index": 0, "number": number}
        )
        took = loop.time() - started
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["message"] == (
            f"{number} is already recorded for request {first} (commodity 0, Organic figs): "
            "check the number in OID"
        )
        assert took < 1.0, f"refused after {took:.2f} s"
        # Neither request is wedged: both answer, and the second takes a number of its own.
        assert (await http.get(f"/requests/{first}")).status_code == 200
        await act(http, second, "record-certificate", commodity_index=0, number="026-1000000001-000303")
        await wait_for(http, second, "awaiting_transport_document")
        await wait_for(http, first, "awaiting_transport_document")
