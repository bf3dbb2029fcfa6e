"""The `nopic` CLI against the running HTTP API: tables by default, --json for scripts, refusals exit 1."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import nopic
from tests.support.dirs import EXAMPLES
from tests.support.stack import ApiStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_submit_the_example_then_list_show_and_act(stack: ApiStack) -> None:
    submitted = await nopic(stack, stack.exporter, "submit", str(EXAMPLES / "request.json"), "--json")
    assert submitted.exit_code == 0, submitted.output
    request_id = json.loads(submitted.stdout)["id"]
    assert json.loads(submitted.stdout)["status"] == "awaiting_documents"

    listed = await nopic(stack, stack.reviewer, "list", "--status", "awaiting_documents")
    assert listed.exit_code == 0, listed.output
    assert request_id in listed.stdout
    assert "Biofruits Export SRL" in listed.stdout

    shown = await nopic(stack, stack.reviewer, "show", request_id)
    assert shown.exit_code == 0, shown.output
    assert "Checklist" in shown.stdout and "MISSING" in shown.stdout
    assert "Audit trail" in shown.stdout

    # A refused action exits non-zero and prints the workflow's reason.
    refused = await nopic(stack, stack.reviewer, "approve", request_id)
    assert refused.exit_code == 1
    assert "commercial invoice" in refused.stderr

    corrected = await nopic(
        stack, stack.exporter, "correct-request-data", request_id, str(EXAMPLES / "request.json")
    )
    assert corrected.exit_code == 0, corrected.output

    documents = EXAMPLES / "documents"
    uploaded = await nopic(
        stack,
        stack.exporter,
        "upload",
        request_id,
        str(documents / "commercial-invoice.pdf"),
        str(documents / "traceability-declaration.pdf"),
        str(documents / "transaction-certificate-finca-sol.pdf"),
        str(documents / "purchase-invoice-biohof-brabant.pdf"),
        str(documents / "packing-list.pdf"),
        str(documents / "booking-reservation.pdf"),
        *("--kind", "commercial_invoice", "--kind", "traceability_declaration"),
        *("--kind", "transaction_certificate", "--kind", "purchase_invoice"),
        *("--kind", "packing_list", "--kind", "booking_reservation"),
        *("--supplier", "", "--supplier", "", "--supplier", "Finca Sol", "--supplier", "Biohof Brabant"),
        *("--supplier", "", "--supplier", ""),
    )
    assert uploaded.exit_code == 0, uploaded.output
    assert "in_review" in uploaded.stdout

    approved = await nopic(stack, stack.reviewer, "approve", request_id, "--note", "complete", "--json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["status"] in ("issuing", "awaiting_transport_document")

    for _ in range(100):  # withdrawing is possible while issuing: wait for the NOPICs
        shown = await nopic(stack, stack.reviewer, "show", request_id, "--json")
        if json.loads(shown.stdout)["state"]["status"] == "awaiting_transport_document":
            break
    withdrawn = await nopic(stack, stack.exporter, "withdraw", request_id)
    assert withdrawn.exit_code == 1
    assert "the request is awaiting_transport_document" in withdrawn.stderr


async def test_users_are_managed_by_an_admin_only(stack: ApiStack) -> None:
    created = await nopic(
        stack, stack.admin, "users", "create", "erik", "--role", "exporter", "--operation-id", "1000000002"
    )
    assert created.exit_code == 0, created.output
    assert "password:" in created.stdout and "token:    nopic_" in created.stdout

    listed = await nopic(stack, stack.admin, "users", "list", "--json")
    assert "erik" in {u["username"] for u in json.loads(listed.stdout)}

    not_admin = await nopic(stack, stack.reviewer, "users", "list")
    assert not_admin.exit_code == 1
    assert "admin" in not_admin.stderr

    bad = await nopic(stack, stack.admin, "users", "create", "xavier", "--role", "exporter")
    assert bad.exit_code == 1
    assert "operation_id" in bad.stderr

    reset = await nopic(stack, stack.admin, "users", "reset-password", "erik")
    assert reset.exit_code == 0 and "password: " in reset.stdout, reset.output
    token = await nopic(stack, stack.admin, "users", "new-token", "erik", "--json")
    assert token.exit_code == 0, token.output
    assert json.loads(token.stdout)["token"].startswith("nopic_")

    revoked = await nopic(stack, stack.admin, "users", "revoke", "erik")
    assert revoked.exit_code == 0, revoked.output


async def test_without_a_token_the_cli_says_how_to_give_one(stack: ApiStack) -> None:
    result = await nopic(stack, None, "list")
    assert result.exit_code == 1
    assert "NOPIC_TOKEN" in result.stderr


async def test_tables_stay_readable_at_80_columns(stack: ApiStack) -> None:
    submitted = await nopic(stack, stack.exporter, "submit", str(EXAMPLES / "request.json"), "--json")
    request_id = json.loads(submitted.stdout)["id"]
    asked = await nopic(
        stack,
        stack.reviewer,
        "request-corrections",
        request_id,
        "--item",
        "lot numbers",
        "--message",
        "Please",
    )
    assert asked.exit_code == 0, asked.output
    for args in (("show", request_id), ("list", "--status", "awaiting_documents"), ("users", "list")):
        person = stack.admin if args[0] == "users" else stack.reviewer
        shown = await nopic(stack, person, *args, columns=80)
        assert shown.exit_code == 0, shown.output
        lines = shown.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, "\n".join(lines)
        assert "…" not in shown.stdout, "nothing is cut short"
        if args[0] != "users":
            assert request_id in shown.stdout, "the id stays whole, to copy"
    listed = (await nopic(stack, stack.reviewer, "list", "--status", "awaiting_documents", columns=80)).stdout
    assert "awaiting documents" in listed and "Biofruits Export SRL" in listed
    shown = (await nopic(stack, stack.reviewer, "show", request_id, columns=80)).stdout
    assert "traceability declaration for" in shown and "request corrections" in shown

    resolved = await nopic(
        stack, stack.reviewer, "resolve-corrections", request_id, "--note", "sent by email", columns=80
    )
    assert resolved.exit_code == 0, resolved.output
    assert max(len(line) for line in resolved.stdout.splitlines()) <= 80
