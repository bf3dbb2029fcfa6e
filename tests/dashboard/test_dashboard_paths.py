"""The dashboard on the procedure's unhappy paths, in a real browser against the whole service: every form
with an action id of its own, so a form sent twice acts once; times typed with a date-time picker and a
zone; refusals under their buttons; the reviewers' queues of grace periods running, departures with
documents missing and moves of the customs deadline waiting for them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from activities.documents import DocumentStore
from tests.support.browser import as_person, snap
from tests.support.stack import (
    ApiStack,
    complete_request,
    first_shipment,
    pdf,
    request_body,
    store_documents,
    today,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def audit_actions(stack: ApiStack, request_id: str) -> list[str]:
    async with stack.client(stack.reviewer) as http:
        detail: dict[str, Any] = (await http.get(f"/requests/{request_id}")).json()
    return [entry["action"] for entry in detail["audit"]]


async def test_every_form_carries_an_action_id_of_its_own_and_a_form_sent_twice_acts_once(
    browser: Browser, stack: ApiStack
) -> None:
    submitted = await complete_request(stack, "ui-action-ids", product="Organic pecans")
    request_id = submitted["id"]
    reviewer = await as_person(browser, stack, stack.reviewer)
    await reviewer.goto(f"{stack.url}/ui/requests/{request_id}")
    ids = await reviewer.locator('form.action input[name="action_id"]').evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    assert len(ids) >= 4 and len(set(ids)) == len(ids), ids

    approve = reviewer.locator("#action-approve")
    sent = await approve.evaluate("form => Object.fromEntries(new FormData(form))")
    await approve.get_by_role("button", name="Approve").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("Approved")
    # The same form again: a double click, or a resend after "the action may still take effect".
    again = await reviewer.request.post(f"{stack.url}/ui/requests/{request_id}/actions/approve", form=sent)
    assert again.ok, await again.text()
    assert (await audit_actions(stack, request_id)).count("approve") == 1
    # The page drawn afresh offers new ids: a new action is a new action.
    await reviewer.reload()
    fresh = await reviewer.locator('form.action input[name="action_id"]').evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    assert not set(fresh) & set(ids)
    await snap(reviewer, "paths-01-approved-once")


async def test_an_exporter_moves_the_eta_in_a_date_time_picker_and_a_zone_and_a_reviewer_decides(
    browser: Browser, stack: ApiStack
) -> None:
    submitted = await complete_request(stack, "ui-move", product="Organic pistachios")
    request_id = submitted["id"]
    exporter = await as_person(browser, stack, stack.exporter)
    await exporter.goto(f"{stack.url}/ui/requests/{request_id}")
    move = exporter.locator("#action-update-eta")
    await expect(move.locator('input[name="eta"]')).to_have_attribute("type", "datetime-local")

    # An arrival before departure is refused, the reason under the button.
    await move.locator('input[name="eta"]').fill(f"{today()}T06:00")
    await move.get_by_role("button", name="Update").click()
    await expect(exporter.locator("#action-update-eta .refused")).to_contain_text(
        "eta: the estimated arrival is before the estimated departure (etd)"
    )

    # Far past the timeframe and its allowance, in Chicago time: it waits for a reviewer.
    far = today() + timedelta(days=140)
    move = exporter.locator("#action-update-eta")
    await move.locator('input[name="eta"]').fill(f"{far}T10:30")
    await move.locator('select[name="eta_zone"]').select_option("America/Chicago")
    await move.get_by_role("button", name="Update").click()
    await expect(exporter.locator("#pending-move")).to_contain_text("waits for a reviewer")
    async with stack.client(stack.reviewer) as http:
        state = (await http.get(f"/requests/{request_id}")).json()["state"]
    asked = datetime.fromisoformat(state["pending_deadline_move"]["customs_deadline"])
    assert asked == datetime.combine(far, time(10, 30), tzinfo=ZoneInfo("America/Chicago"))
    await snap(exporter, "paths-02-move-waits-for-a-reviewer")

    reviewer = await as_person(browser, stack, stack.reviewer)
    await reviewer.goto(f"{stack.url}/ui/queues")
    await expect(reviewer.locator("#deadline-moves")).to_contain_text(request_id)
    await expect(reviewer.locator("#deadline-moves")).to_contain_text("asks for")
    await snap(reviewer, "paths-03-queue-deadline-moves")
    await reviewer.goto(f"{stack.url}/ui/requests/{request_id}")
    accept = reviewer.locator("#action-accept-eta-move")
    await accept.locator('input[name="note"]').fill("the vessel is delayed")
    await accept.get_by_role("button", name="Accept it").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("The move is accepted")
    await expect(reviewer.locator("#pending-move")).to_have_count(0)
    await reviewer.goto(f"{stack.url}/ui/queues")
    await expect(reviewer.locator("#deadline-moves")).not_to_contain_text(request_id)


async def test_a_grace_period_running_is_on_the_reviewers_queue_with_its_end(
    browser: Browser, stack: ApiStack
) -> None:
    # Leaving today, clearing customs within hours: a rejection now leaves no time but the grace period.
    soon = datetime.now(UTC) + timedelta(hours=6)
    submitted = await complete_request(stack, "ui-grace", product="Organic lychees", etd_in_days=0)
    request_id = submitted["id"]
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        moved = await exporter.post(
            f"/requests/{request_id}/actions/update-eta", json={"eta": soon.isoformat()}
        )
        assert moved.status_code == 200, moved.text
        await reviewer.post(f"/requests/{request_id}/actions/approve", json={})
        await wait_for(reviewer, request_id, "awaiting_transport_document")
        stored = (
            await exporter.post("/documents", files={"file": ("bl.pdf", pdf("ui-grace"), "application/pdf")})
        ).json()
        reference = {
            "kind": "transport_document_definitive",
            "file_id": stored["sha256"],
            "sha256": stored["sha256"],
        }
        body = {"document": reference, **first_shipment(etd_in_days=0)}
        delivered = await exporter.post(f"/requests/{request_id}/actions/transport-document", json=body)
        assert delivered.json()["status"] == "active", delivered.text
    page = await as_person(browser, stack, stack.reviewer)
    await page.goto(f"{stack.url}/ui/requests/{request_id}")
    reject = page.locator("#action-reject-transport-document")
    await reject.locator('input[name="reason"]').fill("the consignee is not the importer")
    await reject.get_by_role("button", name="Reject it").click()
    await expect(page.locator("#grace-period")).to_contain_text("the end of the grace period")
    await page.goto(f"{stack.url}/ui/queues")
    section = page.locator("#grace-periods")
    await expect(section).to_contain_text(request_id)
    await expect(section).to_contain_text("a compliant transport document until")
    await snap(page, "paths-04-queue-grace-periods")


async def test_a_request_that_departed_without_its_phytosanitary_certificate_is_on_the_reviewers_queue(
    browser: Browser, stack: ApiStack
) -> None:
    documents = await store_documents(DocumentStore.from_settings(stack.settings, stack.pool), "ui-departed")
    body = request_body(documents=documents, product="Organic mangosteen", etd_in_days=-1)
    body["declarations"]["phytosanitary_certificate_applicable"] = True
    body["received_at"] = (datetime.now(UTC) - timedelta(days=4)).isoformat()  # it came by email
    body["timeframe"]["first_day"] = (today() - timedelta(days=4)).isoformat()
    async with stack.client(stack.reviewer) as http:
        entered = await http.post("/requests", json=body)
        assert entered.status_code == 201, entered.text
        request_id = entered.json()["id"]
        for _ in range(100):
            state = (await http.get(f"/requests/{request_id}")).json()["state"]
            if state["departure_checked"]:
                break
            await asyncio.sleep(0.1)
    assert state["departure_checked"], "the ETD passed: flagged at once"
    page = await as_person(browser, stack, stack.reviewer)
    await page.goto(f"{stack.url}/ui/queues")
    section = page.locator("#departed-missing")
    await expect(section).to_contain_text(request_id)
    await expect(section).to_contain_text("phytosanitary certificate")
    await page.goto(f"{stack.url}/ui/requests/{request_id}")
    await expect(page.locator("#departed-missing")).to_contain_text("phytosanitary certificate")
    await snap(page, "paths-05-departed-missing")
