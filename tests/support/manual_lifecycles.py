"""Manual issuance lifecycles over the HTTP API, as a retrying client drives them: submit, approve, confirm
both operations, record each NOPIC number, deliver the transport document (active), cancel, and confirm
each cancellation (cancelled). Every call is retried with the same `Idempotency-Key` or `action_id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.support.lifecycles import RETRY_FOR, bounded, call, supporting_documents, transport_document
from tests.support.process_stack import FaultStack
from tests.support.stack import EXPORTER_OPERATION, first_shipment, request_body

CANCEL_REASON = "the consignment was not shipped"
# What each manual lifecycle mails, as (audience, kind): as any lifecycle, then the review team's task to
# cancel the NOPIC in OID, and the exporter and the importer once it is cancelled there.
MANUAL_LIFECYCLE_MAIL = {
    ("review_team", "new_request"),
    ("exporter", "nopic_issued"),
    ("importer", "nopic_issued"),
    ("review_team", "documents_received"),
    ("review_team", "cancellation_requested"),
    ("exporter", "cancellation"),
    ("importer", "cancellation"),
}


def nopic_number(index: int) -> str:
    """The number staff would copy from OID for request `index` of a run: one of its own."""
    return f"026-{EXPORTER_OPERATION}-{index + 1:06d}"


async def state_of(http: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = await call(http, "GET", f"/requests/{request_id}")
    state: dict[str, Any] = detail["state"]
    return state


async def until(
    http: httpx.AsyncClient, request_id: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + RETRY_FOR
    while not done(state := await state_of(http, request_id)):
        assert asyncio.get_running_loop().time() < deadline, f"{request_id} never {what}: {state['status']}"
        await asyncio.sleep(0.3)
    return state


async def act(http: httpx.AsyncClient, request_id: str, action: str, action_id: str, **body: Any) -> Any:
    payload = {"action_id": action_id, **body}
    return await call(http, "POST", f"/requests/{request_id}/actions/{action}", json=payload)


async def to_cancel(http: httpx.AsyncClient) -> set[tuple[str, str]]:
    """(request, NOPIC number) of every cancellation listed in "To cancel in OID"."""
    rows = await call(http, "GET", "/certificates", params={"status": "cancellation_pending", "limit": 500})
    return {(row["request_id"], row["nopic_number"]) for row in rows}


async def run_manual_lifecycles(
    stack: FaultStack,
    count: int,
    tag: str,
    concurrency: int = 8,
    between: Callable[[], Awaitable[None]] | None = None,
) -> list[str]:
    """`count` requests from submission to cancelled in manual mode; their ids. `between`, if given, is
    awaited before each request confirms its cancellation (a test's chance to look at the queue)."""
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        documents = await supporting_documents(exporter)
        bill = await transport_document(exporter)

        async def lifecycle(index: int) -> str:
            body = request_body(documents=documents, product=f"Organic figs {tag} {index}")
            headers = {"Idempotency-Key": f"{tag}-{index}"}
            request_id: str = (await call(exporter, "POST", "/requests", json=body, headers=headers))["id"]
            await until(reviewer, request_id, lambda s: s["status"] == "in_review", "in review")
            await act(reviewer, request_id, "approve", f"approve-{request_id}")
            await until(
                reviewer,
                request_id,
                lambda s: (s["operations_check"] or {}).get("status") == "to_confirm",
                "awaiting the operations check",
            )
            await act(
                reviewer, request_id, "confirm-operations", f"confirm-{request_id}", note="Certified in OID"
            )
            await act(
                reviewer,
                request_id,
                "record-certificate",
                f"number-{request_id}",
                commodity_index=0,
                number=nopic_number(index),
            )
            await until(
                reviewer, request_id, lambda s: s["status"] == "awaiting_transport_document", "issued"
            )
            await act(
                exporter,
                request_id,
                "transport-document",
                f"transport-{request_id}",
                document=bill,
                **first_shipment(),
            )
            await until(reviewer, request_id, lambda s: s["status"] == "active", "active")
            cancel = f"cancel-{request_id}"
            await act(reviewer, request_id, "cancel-certificates", cancel, reason=CANCEL_REASON)
            await until(reviewer, request_id, lambda s: s["status"] == "cancelling", "cancelling")
            if between is not None:
                await between()
            await act(
                reviewer,
                request_id,
                "record-cancellation",
                f"cancelled-{request_id}",
                commodity_index=0,
                note="cancelled in Global INTEGRITY",
            )
            await until(reviewer, request_id, lambda s: s["status"] == "cancelled", "cancelled")
            return request_id

        return await bounded(count, concurrency, lifecycle)


async def actions_recorded(stack: FaultStack, ids: list[str]) -> dict[str, list[str]]:
    """Each request's audit trail, action by action, in order."""
    rows = await stack.pool.fetch(
        "SELECT request_id, action FROM audit_events WHERE request_id = ANY($1) "
        "ORDER BY request_id, sequence",
        ids,
    )
    recorded: dict[str, list[str]] = {request_id: [] for request_id in ids}
    for row in rows:
        recorded[row["request_id"]].append(row["action"])
    return recorded
