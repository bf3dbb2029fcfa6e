"""Repeats and references, over HTTP against the whole service: an idempotency key returns its request
whatever its state and never starts a closed one again; request ids are random and claimed in PostgreSQL;
every document a body names was uploaded by someone allowed on the request; a cancellation names issued
certificates; each refused with 422 naming the field, and nobody told anything."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.state import workflow_id
from tests.support.stack import (
    OTHER_EXPORTER_OPERATION,
    ApiStack,
    complete_request,
    first_shipment,
    pdf,
    request_body,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()["error"]
    return body


def fields_of(error: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["rule"] for f in error["fields"]}


def definitive(stored: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "transport_document_definitive", "file_id": stored["sha256"], "sha256": stored["sha256"]}


async def test_a_key_used_before_returns_its_request_even_refused_and_starts_no_new_run(
    stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    body = request_body(product="Organic quinoa")
    key = {"Idempotency-Key": "quinoa-1"}
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        first = (await exporter.post("/requests", json=body, headers=key)).json()
        await wait_for(reviewer, first["id"], "awaiting_documents")
        refused = await reviewer.post(f"/requests/{first['id']}/actions/refuse", json={"reason": "no TC"})
        assert refused.json()["status"] == "refused"
        again = await exporter.post("/requests", json=body, headers=key)
        detail = (await exporter.get(f"/requests/{first['id']}")).json()
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert again.json()["status"] == "refused"
    assert [e["action"] for e in detail["audit"]].count("received") == 1
    runs = [
        run
        async for run in dev_server_env.client.list_workflows(f"WorkflowId = '{workflow_id(first['id'])}'")
    ]
    assert len(runs) == 1, "the closed request was started again"


async def test_request_ids_carry_64_random_bits_and_are_claimed_in_postgresql(stack: ApiStack) -> None:
    async with stack.client(stack.exporter) as http:
        ids = [(await http.post("/requests", json=request_body())).json()["id"] for _ in range(2)]
    assert all(re.fullmatch(r"R\d{8}-[0-9A-F]{16}", i) for i in ids), ids
    assert ids[0] != ids[1]
    claimed = await stack.pool.fetch("SELECT request_id FROM request_ids WHERE request_id = ANY($1)", ids)
    assert sorted(r["request_id"] for r in claimed) == sorted(ids)
    with pytest.raises(asyncpg.UniqueViolationError):
        await stack.pool.execute("INSERT INTO request_ids (request_id) VALUES ($1)", ids[0])


async def test_a_submission_naming_a_file_never_uploaded_is_refused_naming_the_field(stack: ApiStack) -> None:
    never = {"kind": "commercial_invoice", "file_id": "e" * 64, "sha256": "e" * 64}
    not_a_hash = {"kind": "commercial_invoice", "file_id": "invoice-1", "sha256": "e" * 64}
    async with stack.client(stack.exporter) as http:
        before = (await http.get("/requests")).json()["total"]
        unknown = await http.post("/requests", json=request_body(documents=[never]))
        named = await http.post("/requests", json=request_body(documents=[not_a_hash]))
        after = (await http.get("/requests")).json()["total"]
    error = error_of(unknown, 422)
    assert error["code"] == "unknown_document"
    assert fields_of(error) == {"body.documents.0.sha256": "uploaded_document"}
    assert "uploaded for operation 1000000001" in error["message"]
    assert fields_of(error_of(named, 422)) == {"body.documents.0.file_id": "file_id"}
    assert after == before, "nothing started"


async def test_an_exporter_never_names_nor_reads_another_operation_s_file(stack: ApiStack) -> None:
    async with (
        stack.client(stack.exporter) as exporter,
        stack.client(stack.other_exporter) as other,
        stack.client(stack.reviewer) as reviewer,
    ):
        theirs = (
            await other.post("/documents", files={"file": ("x.pdf", pdf("theirs"), "application/pdf")})
        ).json()
        named = await exporter.post(
            "/requests", json=request_body(documents=[{**definitive(theirs), "kind": "commercial_invoice"}])
        )
        assert fields_of(error_of(named, 422)) == {"body.documents.0.sha256": "uploaded_document"}

        # A reviewer's file outside any request: only a reviewer names it, then the exporter reads it.
        submitted = await complete_request(stack, "references-issued")
        request_id = submitted["id"]
        await reviewer.post(f"/requests/{request_id}/actions/approve", json={})
        await wait_for(reviewer, request_id, "awaiting_transport_document")
        certifiers = (
            await reviewer.post(
                "/documents", files={"file": ("bl.pdf", pdf("reviewer-bl"), "application/pdf")}
            )
        ).json()
        body = {"document": definitive(certifiers), **first_shipment()}
        refused = await exporter.post(f"/requests/{request_id}/actions/transport-document", json=body)
        assert fields_of(error_of(refused, 422)) == {"body.document.sha256": "uploaded_document"}
        taken = await reviewer.post(f"/requests/{request_id}/actions/transport-document", json=body)
        assert taken.status_code == 200, taken.text
        assert taken.json()["status"] == "active"
        read = await exporter.get(f"/requests/{request_id}/documents/{certifiers['sha256']}")
        assert read.status_code == 200 and read.content == pdf("reviewer-bl")
        # The other operation's exporter learns nothing by the hash, through its own requests either.
        own = (await other.post("/requests", json=request_body(operation_id=OTHER_EXPORTER_OPERATION))).json()
        peek = await other.get(f"/requests/{own['id']}/documents/{certifiers['sha256']}")
        assert peek.status_code == 404


async def test_a_cancellation_naming_no_certificate_or_one_not_issued_is_422_and_tells_no_one(
    stack: ApiStack,
) -> None:
    submitted = await complete_request(stack, "references-cancel")
    request_id = submitted["id"]
    async with stack.client(stack.reviewer) as reviewer:
        await reviewer.post(f"/requests/{request_id}/actions/approve", json={})
        state = await wait_for(reviewer, request_id, "awaiting_transport_document")
        empty = await reviewer.post(
            f"/requests/{request_id}/actions/cancel-certificates",
            json={"reason": "x", "commodity_indexes": []},
        )
        absent = await reviewer.post(
            f"/requests/{request_id}/actions/cancel-certificates",
            json={"reason": "x", "commodity_indexes": [0, 3]},
        )
        after = (await reviewer.get(f"/requests/{request_id}")).json()["state"]
    assert fields_of(error_of(empty, 422)) == {"body.commodity_indexes": "min_items"}
    error = error_of(absent, 422)
    assert fields_of(error) == {"body.commodity_indexes.1": "issued_certificate"}
    assert "commodity 3 does not exist: the request has 1" in error["message"]
    assert after["certificates"] == state["certificates"] and after["history"] == state["history"]
    await asyncio.sleep(1)  # what the workflow would send goes out within moments
    told = [
        m
        for m in stack.outbox.glob("*.eml")
        if request_id in (text := m.read_text(errors="replace")) and "X-Nopic-Kind: cancellation" in text
    ]
    assert told == [], "nobody was told anything"


async def test_an_eta_update_keeps_the_expected_clearance_unless_the_body_clears_it(stack: ApiStack) -> None:
    body = request_body(product="Organic chia")
    eta = datetime.fromisoformat(body["shipment"]["eta"])
    body["shipment"]["expected_clearance"] = (eta + timedelta(days=2)).isoformat()
    async with stack.client(stack.exporter) as http:
        request_id = (await http.post("/requests", json=body)).json()["id"]
        later = (eta + timedelta(days=1)).isoformat()
        kept = await http.post(f"/requests/{request_id}/actions/update-eta", json={"eta": later})
        cleared = await http.post(
            f"/requests/{request_id}/actions/update-eta", json={"eta": later, "expected_clearance": None}
        )
    kept_clearance = datetime.fromisoformat(kept.json()["form"]["shipment"]["expected_clearance"])
    assert kept_clearance == eta + timedelta(days=2)
    assert cleared.json()["form"]["shipment"]["expected_clearance"] is None
    assert datetime.fromisoformat(cleared.json()["customs_deadline"]) == eta + timedelta(days=1)
