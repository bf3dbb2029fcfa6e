"""The HTTP API over HTTP: dev server, embedded PostgreSQL, the OID sandbox and the real worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.documents import DocumentStore
from domain.state import workflow_id
from tests.support.stack import (
    WAIT_SECONDS,
    ApiStack,
    complete_request,
    first_shipment,
    pdf,
    request_body,
    store_documents,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def error_of(answer: Any) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()["error"]
    return body


async def test_submission_answers_lead_time_late_flag_and_checklist(stack: ApiStack) -> None:
    async with stack.client(stack.exporter) as http:
        answer = await http.post("/requests", json=request_body(etd_in_days=1))
    assert answer.status_code == 201, answer.text
    submitted = answer.json()
    assert submitted["status"] == "awaiting_documents"
    assert submitted["late"] is True
    assert submitted["lead_working_days"] < 3
    items = {item["item"]: item for item in submitted["checklist"]}
    assert items["commercial_invoice"] == {
        **items["commercial_invoice"],
        "required": "now",
        "satisfied_by": None,
    }


async def test_a_new_submission_is_answered_with_the_state_its_workflow_checks_it_in_to(
    stack: ApiStack,
) -> None:
    """The answer comes once the start is accepted, computed as the workflow computes it: the workflow's
    own state, once it has taken the request in, says the same (a complete request and an incomplete one)."""
    documents = await store_documents(DocumentStore.from_settings(stack.settings, stack.pool), "intake")
    bodies = {
        "in_review": request_body(documents=documents),
        "awaiting_documents": request_body(etd_in_days=1),
    }
    async with stack.client(stack.exporter) as http:
        for status, body in bodies.items():
            answer = await http.post("/requests", json=body)
            assert answer.status_code == 201, answer.text
            submitted = answer.json()
            assert submitted["status"] == status
            # Listed at once, as answered: the read model has its row before the workflow records it.
            newest = {"sort": "received_at", "descending": True, "limit": 20}
            listed = (await http.get("/requests", params=newest)).json()["items"]
            assert {"status": status} in [
                {"status": r["status"]} for r in listed if r["request_id"] == submitted["id"]
            ]
            state = await wait_for(http, submitted["id"], status)
            fields = ("lead_working_days", "late", "checklist")
            assert {f: submitted[f] for f in fields} == {f: state[f] for f in fields}
            assert datetime.fromisoformat(submitted["customs_deadline"]) == datetime.fromisoformat(
                state["customs_deadline"]
            )
            assert [h["action"] for h in state["history"]] == ["received", "documents_checked"]
            # Listed in Temporal by its search attributes from the start (the first state's: `received`).
            history = await stack.temporal.get_workflow_handle(workflow_id(submitted["id"])).fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            assert started.search_attributes.indexed_fields["NopicStatus"].data == b'"received"'


async def test_a_retried_submission_with_the_same_idempotency_key_is_the_same_request(
    stack: ApiStack,
) -> None:
    body = request_body()
    async with stack.client(stack.exporter) as http:
        first = await http.post("/requests", json=body, headers={"Idempotency-Key": "order-77"})
        again = await http.post("/requests", json=body, headers={"Idempotency-Key": "order-77"})
        other = await http.post(
            "/requests", json=request_body(product="Other"), headers={"Idempotency-Key": "order-77"}
        )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_key_reused"


async def test_only_a_reviewer_sets_the_time_of_receipt(stack: ApiStack) -> None:
    body = {**request_body(), "received_at": "2020-01-01T09:00:00+01:00"}
    async with stack.client(stack.exporter) as http:
        refused = await http.post("/requests", json=body)
    assert refused.status_code == 403
    assert "received_at" in error_of(refused)["message"]

    yesterday = request_body()
    yesterday["received_at"] = (datetime.now(UTC) - timedelta(hours=20)).isoformat()
    async with stack.client(stack.reviewer) as http:
        entered = await http.post("/requests", json=yesterday)
        future = await http.post("/requests", json={**yesterday, "received_at": "2999-01-01T00:00:00+00:00"})
    assert entered.status_code == 201, entered.text
    assert future.status_code == 422
    assert any(f["field"].endswith("received_at") for f in error_of(future)["fields"])


async def test_an_exporter_submits_only_for_its_own_operation(stack: ApiStack) -> None:
    async with stack.client(stack.other_exporter) as http:
        answer = await http.post("/requests", json=request_body())
    assert answer.status_code == 403
    assert "exporter.operation_id" in error_of(answer)["message"]


async def test_a_malformed_request_names_each_bad_field(stack: ApiStack) -> None:
    body = request_body()
    body["exporter"]["operation_id"] = "123"
    body["commodities"][0]["hts_code"] = "0804.50"
    async with stack.client(stack.reviewer) as http:
        answer = await http.post("/requests", json=body)
    assert answer.status_code == 422
    error = error_of(answer)
    fields = {f["field"] for f in error["fields"]}
    assert "body.exporter.operation_id" in fields
    assert "body.commodities.0.hts_code" in fields
    assert "10 digits" in error["message"]


async def test_upload_approve_issue_pdf_transport_document_to_active(stack: ApiStack) -> None:
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        submitted = (
            await exporter.post("/requests", json=request_body(product="Organic banana chips"))
        ).json()
        request_id = submitted["id"]
        assert submitted["status"] == "awaiting_documents"

        # Approval is refused while a document required now is missing: 409 with the workflow's reason.
        refused = await reviewer.post(f"/requests/{request_id}/actions/approve", json={})
        assert refused.status_code == 409
        assert error_of(refused)["code"] == "action_refused"
        assert "commercial invoice" in error_of(refused)["message"]

        files = [
            ("files", ("invoice.pdf", pdf("inv"), "application/pdf")),
            ("files", ("trace.pdf", pdf("trace"), "application/pdf")),
            ("files", ("purchase.pdf", pdf("purchase"), "application/pdf")),
            ("files", ("booking.png", b"\x89PNG\r\n\x1a\n" + b"booking", "image/png")),
        ]
        data = {
            "kind": [
                "commercial_invoice",
                "traceability_declaration",
                "purchase_invoice",
                "booking_reservation",
            ],
            "supplier": ["", "", "Finca Sol", ""],
        }
        uploaded = await exporter.post(f"/requests/{request_id}/documents", files=files, data=data)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["status"] == "in_review"

        not_a_pdf = await exporter.post(
            f"/requests/{request_id}/documents",
            files=[("files", ("x.pdf", b"plain text", "application/pdf"))],
            data={"kind": ["other"]},
        )
        assert not_a_pdf.status_code == 422
        assert "PDF, PNG or JPEG" in error_of(not_a_pdf)["message"]

        malformed = await reviewer.post(f"/requests/{request_id}/actions/refuse", json={"reason": ""})
        assert malformed.status_code == 422

        metrics = (await reviewer.get("/metrics")).text
        assert 'nopic_workflow_actions_total{action="approve",outcome="refused"}' in metrics

        approved = await reviewer.post(
            f"/requests/{request_id}/actions/approve", json={"note": "all in order"}
        )
        assert approved.status_code == 200, approved.text

        state = await wait_for(reviewer, request_id, "awaiting_transport_document")
        [certificate] = state["certificates"]
        assert certificate["status"] == "issued"
        pdf_answer = await exporter.get(f"/requests/{request_id}/certificates/{certificate['number']}.pdf")
        assert pdf_answer.status_code == 200
        assert pdf_answer.headers["content-type"] == "application/pdf"
        assert pdf_answer.content.startswith(b"%PDF")
        assert await delivered(stack, certificate["number"]), "no mail with the NOPIC number reached SMTP"

        stored = (
            await exporter.post("/documents", files={"file": ("bl.pdf", pdf("bl"), "application/pdf")})
        ).json()
        reference = {
            "kind": "transport_document_definitive",
            "file_id": stored["sha256"],
            "sha256": stored["sha256"],
        }
        active = await exporter.post(
            f"/requests/{request_id}/actions/transport-document",
            json={"document": reference, **first_shipment()},
        )
        assert active.status_code == 200, active.text
        assert active.json()["status"] == "active"

        detail = (await exporter.get(f"/requests/{request_id}")).json()
        actors = {(e["action"], e["actor_name"]) for e in detail["audit"]}
        assert ("approve", "Rita") in actors
        assert ("transport_document", "Eddy") in actors
        document = await exporter.get(f"/requests/{request_id}/documents/{stored['sha256']}")
        assert document.status_code == 200
        assert document.content == pdf("bl")


# Issuance (OID over HTTP) and mail (PDFs, SMTP) take well under a second; a busy machine gets this long.


async def delivered(stack: ApiStack, text: str) -> bool:
    """Whether a message containing `text` reached the SMTP sink (mail goes out in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while loop.time() < deadline:
        messages = await asyncio.to_thread(lambda: [p.read_text() for p in stack.outbox.glob("*.eml")])
        if any(text in message for message in messages):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_lists_filter_sort_and_page_from_the_read_model(stack: ApiStack) -> None:
    first = await complete_request(stack, "list-a", product="Organic quinoa flakes", etd_in_days=5)
    second = await complete_request(stack, "list-b", product="Organic quinoa flour", etd_in_days=30)
    async with stack.client(stack.reviewer) as http:
        page = (await http.get("/requests", params={"product": "QUINOA", "sort": "etd"})).json()
        assert [r["request_id"] for r in page["items"]] == [first["id"], second["id"]]
        assert page["total"] == 2
        descending = (
            await http.get("/requests", params={"product": "quinoa", "sort": "etd", "descending": True})
        ).json()
        assert [r["request_id"] for r in descending["items"]] == [second["id"], first["id"]]
        paged = (
            await http.get("/requests", params={"product": "quinoa", "sort": "etd", "limit": 1, "offset": 1})
        ).json()
        assert [r["request_id"] for r in paged["items"]] == [second["id"]]
        in_review = (await http.get("/requests", params={"status": "in_review", "product": "quinoa"})).json()
        assert in_review["total"] == 2
        refused = (await http.get("/requests", params={"status": "refused", "product": "quinoa"})).json()
        assert refused["total"] == 0
        bad = await http.get("/requests", params={"sort": "password"})
        assert bad.status_code == 422
    async with stack.client(stack.other_exporter) as http:
        theirs = (await http.get("/requests", params={"product": "quinoa"})).json()
    assert theirs["total"] == 0


async def test_corrections_round_trip_keeps_the_time_of_receipt(stack: ApiStack) -> None:
    submitted = await complete_request(stack, "corrections", product="Organic ginger")
    request_id = submitted["id"]
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        asked = await reviewer.post(
            f"/requests/{request_id}/actions/request-corrections",
            json={"items": ["net weight"], "message": "The invoice says 1100 kg."},
        )
        assert asked.status_code == 200, asked.text
        assert asked.json()["corrections_requested"] == ["net weight"]
        before = asked.json()["form"]

        corrected = request_body(product="Organic ginger")
        corrected["commodities"][0]["net_kg"] = "1100"
        mine_only = {**corrected, "exporter": {**corrected["exporter"], "operation_id": "1000000002"}}
        refused = await exporter.post(
            f"/requests/{request_id}/actions/correct-request-data", json={"form": mine_only}
        )
        assert refused.status_code == 403
        answer = await exporter.post(
            f"/requests/{request_id}/actions/correct-request-data", json={"form": corrected}
        )
        assert answer.status_code == 200, answer.text
        state = answer.json()
    assert state["form"]["commodities"][0]["net_kg"] == "1100"
    assert state["certificates"][0]["net_kg"] == "1100"
    assert state["form"]["received_at"] == before["received_at"]
    assert len(state["form"]["documents"]) == len(before["documents"])  # documents held are kept
