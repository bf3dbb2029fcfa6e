"""A closed request outlives its workflow: deleted from Temporal (as its namespace's retention does), it is
read back whole through the API and the dashboard from its record in PostgreSQL and the document store."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.request_records import kept_request
from domain.state import RequestState, workflow_id
from starter.records import keep_closed_requests
from tests.support.stack import ApiStack, first_shipment, pdf, request_body, today, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

UPLOADS = [
    ("commercial_invoice", "", "invoice.pdf"),
    ("traceability_declaration", "", "trace.pdf"),
    ("purchase_invoice", "Finca Sol", "purchase.pdf"),
    ("booking_reservation", "", "booking.pdf"),
]


async def delete_workflow(client: Client, request_id: str) -> None:
    """What Temporal's retention does to a closed workflow: its history is gone, describe answers 404."""
    await client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id(request_id)),
        )
    )
    handle = client.get_workflow_handle(workflow_id(request_id))
    for _ in range(600):  # the dev server deletes in the background, within seconds
        try:
            await handle.describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return
            raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"{request_id}: the workflow was not deleted")


async def closed_request(stack: ApiStack) -> tuple[str, RequestState, list[str]]:
    """A request taken through issue, the transport document and a shipment, then cancelled by the reviewer:
    its id, the state its workflow ended with, and the sha256 of every document it refers to."""
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        body = request_body(product="Organic kept mango")
        request_id = (await exporter.post("/requests", json=body)).json()["id"]
        files = [("files", (name, pdf(f"kept-{kind}"), "application/pdf")) for kind, _, name in UPLOADS]
        data = {"kind": [k for k, _, _ in UPLOADS], "supplier": [s for _, s, _ in UPLOADS]}
        uploaded = await exporter.post(f"/requests/{request_id}/documents", files=files, data=data)
        assert uploaded.status_code == 200, uploaded.text
        assert (await reviewer.post(f"/requests/{request_id}/actions/approve", json={})).status_code == 200
        await wait_for(reviewer, request_id, "awaiting_transport_document")
        references = []
        for tag in ("kept-bl", "kept-bl-2"):
            stored = (await exporter.post("/documents", files={"file": (f"{tag}.pdf", pdf(tag))})).json()
            sha256 = stored["sha256"]
            references.append({"kind": "transport_document_definitive", "file_id": sha256, "sha256": sha256})
        delivered = await exporter.post(
            f"/requests/{request_id}/actions/transport-document",
            json={"document": references[0], **first_shipment()},
        )
        assert delivered.json()["status"] == "active", delivered.text
        shipment = {
            "shipped_on": today().isoformat(),
            "quantities": [{"commodity_index": 0, "net_kg": "500"}],
            "transport_document": references[1],
        }
        shipped = await exporter.post(f"/requests/{request_id}/actions/record-shipment", json=shipment)
        assert shipped.status_code == 200, shipped.text
        cancelled = await reviewer.post(
            f"/requests/{request_id}/actions/cancel-certificates", json={"reason": "lot failed analysis"}
        )
        # The OID gateway cancels outside the request's lock: cancelling, then cancelled.
        assert cancelled.json()["status"] in ("cancelling", "cancelled"), cancelled.text
        await wait_for(reviewer, request_id, "cancelled")
    handle = stack.temporal.get_workflow_handle(workflow_id(request_id), result_type=RequestState)
    final = await handle.result()
    documents = [d.sha256 for d in final.form.documents]
    return request_id, final, documents


async def test_a_closed_request_deleted_from_temporal_is_read_back_whole(stack: ApiStack) -> None:
    request_id, final, documents = await closed_request(stack)
    [certificate] = final.certificates
    assert certificate.number and final.shipments and len(documents) == 6
    async with stack.client(stack.exporter) as exporter:
        audit_before = (await exporter.get(f"/requests/{request_id}")).json()["audit"]
        pdf_before = await exporter.get(f"/requests/{request_id}/certificates/{certificate.number}.pdf")
    assert pdf_before.status_code == 200

    await delete_workflow(stack.temporal, request_id)

    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        detail: dict[str, Any] = (await exporter.get(f"/requests/{request_id}")).json()
        assert RequestState.model_validate(detail["state"]) == final
        assert detail["audit"] == audit_before
        assert [e["sequence"] for e in detail["audit"]] == list(range(1, final.sequence + 1))
        assert detail["record"]["keep_until"].startswith(str(int(detail["record"]["closed_at"][:4]) + 10))
        tags = [f"kept-{k}" for k, _, _ in UPLOADS] + ["kept-bl", "kept-bl-2"]
        for sha256, tag in zip(documents, tags, strict=True):
            answer = await exporter.get(f"/requests/{request_id}/documents/{sha256}")
            assert (answer.status_code, answer.content) == (200, pdf(tag))
        again = await exporter.get(f"/requests/{request_id}/certificates/{certificate.number}.pdf")
        assert again.status_code == 200
        assert again.content == pdf_before.content, "the record's PDF, as sealed when the request closed"
        [seal] = PdfFileReader(io.BytesIO(again.content)).embedded_signatures
        assert seal.field_name == "CertifierSeal"
        page = PdfReader(io.BytesIO(again.content)).pages[0].extract_text()
        assert "CANCELLED" in page and "lot failed analysis" in page
        query = {"status": "cancelled", "product": "kept mango"}
        listed = (await reviewer.get("/requests", params=query)).json()
        assert [r["request_id"] for r in listed["items"]] == [request_id]
        refused = await reviewer.post(f"/requests/{request_id}/actions/approve", json={})
        assert refused.status_code == 409
        assert refused.json()["error"]["message"] == "the request is cancelled and takes no further actions"
    async with stack.client(stack.other_exporter) as other:
        hidden = await other.get(f"/requests/{request_id}")
    assert hidden.status_code == 404, "another exporter still learns nothing of it"

    page = await stack.dashboard(stack.exporter)
    try:
        html = (await page.get(f"/ui/requests/{request_id}")).text
        shown = [certificate.number, "lot failed analysis", "kept until", "invoice.pdf", "kept mango"]
        for text in shown:
            assert text in html, text
        assert f"/requests/{request_id}/certificates/{certificate.number}.pdf" in html
        assert (await page.get(f"/requests/{request_id}/documents/{documents[0]}")).status_code == 200
    finally:
        await page.aclose()


async def test_a_request_closed_before_records_were_kept_gets_its_record_from_its_workflow(
    stack: ApiStack,
) -> None:
    async with stack.client(stack.exporter) as exporter:
        body = request_body(product="Organic old kiwi")
        request_id = (await exporter.post("/requests", json=body)).json()["id"]
        withdrawn = await exporter.post(f"/requests/{request_id}/actions/withdraw", json={"reason": "old"})
    assert withdrawn.json()["status"] == "withdrawn", withdrawn.text
    handle = stack.temporal.get_workflow_handle(workflow_id(request_id), result_type=RequestState)
    final = await handle.result()
    # As under the version before records: the request closed, and no record was kept.
    await stack.pool.execute("DELETE FROM request_records WHERE request_id = $1", request_id)

    queue = stack.settings.temporal_task_queue
    assert await keep_closed_requests(stack.temporal, stack.pool, queue, 10) >= 1
    kept = await kept_request(stack.pool, request_id)
    assert kept is not None and kept.state == final
    assert await keep_closed_requests(stack.temporal, stack.pool, queue, 10) == 0, "kept once"

    await delete_workflow(stack.temporal, request_id)
    async with stack.client(stack.exporter) as exporter:
        detail = (await exporter.get(f"/requests/{request_id}")).json()
    assert RequestState.model_validate(detail["state"]) == final
