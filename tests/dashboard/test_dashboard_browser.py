"""The dashboard in a real browser (Debian's Chromium driven by playwright), against the whole service.

With NOPIC_SCREENSHOTS=<dir>, each step leaves a full-page screenshot there, to look at the pages.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import CSP_VIOLATIONS, as_person, signed_in, snap
from tests.support.dirs import EXAMPLES
from tests.support.stack import ApiStack, complete_request, first_shipment, request_body, today

pytestmark = pytest.mark.asyncio(loop_scope="session")

DOCUMENTS = EXAMPLES / "documents"


async def test_admin_creates_people_exporter_submits_and_uploads_reviewer_approves_to_active(
    browser: Browser, stack: ApiStack
) -> None:
    # The admin creates an exporter; the password is shown once on the page.
    admin = await as_person(browser, stack, stack.admin)
    await expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    await admin.get_by_label("Username").fill("bea")
    await admin.get_by_label("Name", exact=True).fill("Bea Biofruits")
    await admin.get_by_label("Role").select_option("exporter")
    await admin.get_by_label("NOP operation ID").fill("1000000001")
    await admin.get_by_role("button", name="Create").click()
    password = (await admin.locator("#issued-password").inner_text()).strip()
    await snap(admin, "01-admin-users")

    # The exporter submits a request with two documents, then uploads the rest on the request page.
    exporter = await signed_in(browser, stack, "bea", password)
    await expect(exporter.get_by_role("heading", name="My requests")).to_be_visible()
    await exporter.get_by_role("link", name="New request").first.click()
    body = request_body(product="Organic pineapple rings")
    form = exporter.locator("form.request-form")
    for name, value in {
        "exporter.name": body["exporter"]["name"],
        "exporter.country": "BE",
        "exporter.email": body["exporter"]["email"],
        "importer.name": body["importer"]["name"],
        "importer.address": body["importer"]["address"],
        "importer.operation_id": body["importer"]["operation_id"],
        "importer.email": body["importer"]["email"],
        "shipment.export_country": "BE",
        "shipment.export_port": "Antwerp",
        "shipment.us_port_of_entry": "Newark",
        "shipment.etd": body["shipment"]["etd"],
        "shipment.eta": f"{today() + timedelta(days=20)}T08:00",
        "timeframe.first_day": body["timeframe"]["first_day"],
        "timeframe.last_day": body["timeframe"]["last_day"],
        "commodities.0.product_name": "Organic pineapple rings",
        "commodities.0.hts_code": "0804300000",
        "commodities.0.net_kg": "950",
        "commodities.0.lot_numbers": "PR-1, PR-2",
        "commodities.0.supplier_name": "Finca Sol",
    }.items():
        await form.locator(f'[name="{name}"]').fill(value)
    await form.locator('[name="commodities.0.supplier_certified"]').check()
    await form.locator('[name="kinds.0"]').select_option("commercial_invoice")
    await form.locator('[name="files.0"]').set_input_files(DOCUMENTS / "commercial-invoice.pdf")
    await form.locator('[name="kinds.1"]').select_option("traceability_declaration")
    await form.locator('[name="files.1"]').set_input_files(DOCUMENTS / "traceability-declaration.pdf")
    await snap(exporter, "02-exporter-new-request")
    await form.get_by_role("button", name="Submit the request").click()

    await expect(exporter.locator("h1 .badge")).to_have_text("awaiting documents")
    request_id = (await exporter.locator("h1").inner_text()).split()[0]
    await expect(exporter.locator("#checklist")).to_contain_text("missing")
    upload = exporter.locator("form#upload")
    await upload.locator('[name="kinds.0"]').select_option("purchase_invoice")
    await upload.locator('[name="files.0"]').set_input_files(
        DOCUMENTS / "purchase-invoice-biohof-brabant.pdf"
    )
    await upload.locator('[name="suppliers.0"]').fill("Finca Sol")
    await upload.locator('[name="kinds.1"]').select_option("booking_reservation")
    await upload.locator('[name="files.1"]').set_input_files(DOCUMENTS / "booking-reservation.pdf")
    await upload.get_by_role("button", name="Upload").click()
    await expect(exporter.locator("h1 .badge")).to_have_text("in review")
    await expect(exporter.locator("#checklist")).to_contain_text("booking-reservation.pdf")
    await snap(exporter, "03-exporter-request-in-review")

    # The reviewer finds it in the queue, approves it, and sees the status change.
    reviewer = await as_person(browser, stack, stack.reviewer)
    await expect(reviewer.get_by_role("heading", name="Work queues")).to_be_visible()
    await expect(reviewer.locator("#awaiting-review")).to_contain_text(request_id)
    await snap(reviewer, "04-reviewer-queues")
    await reviewer.locator("#awaiting-review").get_by_role("link", name=request_id).click()
    await reviewer.locator("#action-approve").get_by_role("button", name="Approve").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("Approved")
    # Issuance runs in the background; the page shows the state as it is now: reload, for up to 30 s.
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        if await reviewer.locator("h1 .badge").inner_text() == "awaiting transport document":
            break
        await reviewer.wait_for_timeout(200)
        await reviewer.reload()
    await expect(reviewer.locator("h1 .badge")).to_have_text("awaiting transport document")
    await expect(reviewer.locator("#certificates")).to_contain_text("PDF")
    await snap(reviewer, "05-reviewer-issued")

    # The exporter delivers the definitive transport document: the request is active.
    await exporter.goto(f"{stack.url}/ui/requests/{request_id}")
    transport = exporter.locator("#action-transport-document")
    await transport.locator('[name="document"]').set_input_files(DOCUMENTS / "bill-of-lading.pdf")
    await transport.locator('[name="shipped_on"]').fill(body["shipment"]["etd"])
    await transport.locator('[name="kg.0"]').fill("600")
    await transport.get_by_role("button", name="Deliver it").click()
    await expect(exporter.locator("h1 .badge")).to_have_text("active")
    await expect(exporter.locator("#audit")).to_contain_text("Rita")
    await snap(exporter, "06-exporter-active")
    assert CSP_VIOLATIONS == []


async def test_a_refused_action_shows_the_workflows_reason_inline(browser: Browser, stack: ApiStack) -> None:
    async with stack.client(stack.exporter) as http:
        submitted = (await http.post("/requests", json=request_body(product="Organic figs"))).json()
    reviewer = await as_person(browser, stack, stack.reviewer)
    await reviewer.goto(f"{stack.url}/ui/requests/{submitted['id']}")
    await reviewer.locator("#action-approve").get_by_role("button", name="Approve").click()
    refusal = reviewer.locator("#action-approve .refused")
    await expect(refusal).to_contain_text(re.compile("Refused:.*commercial invoice"))
    await expect(reviewer.locator("h1 .badge")).to_have_text("awaiting documents")
    await snap(reviewer, "07-refused-inline")


async def test_queues_count_and_flag_late_requests(browser: Browser, stack: ApiStack) -> None:
    late = await complete_request(stack, "late-one", product="Organic late dates", etd_in_days=1)
    assert late["late"]
    reviewer = await as_person(browser, stack, stack.reviewer)
    row = reviewer.locator("#awaiting-review tr", has_text=late["id"])
    await expect(row).to_have_class(re.compile("late"))
    await expect(row.locator(".late-badge")).to_be_visible()
    count = int(await reviewer.locator("#count-awaiting-review").inner_text())
    assert count >= 1
    await reviewer.goto(f"{stack.url}/ui/requests/{late['id']}")
    await expect(reviewer.locator("svg.timeline")).to_contain_text("today")
    await expect(reviewer.locator("svg.timeline")).to_contain_text("customs deadline")
    await snap(reviewer, "08-late-request-timeline")


async def test_manual_issuance_in_the_dashboard_to_active_then_cancelled_once_confirmed(
    browser: Browser, manual_stack: ApiStack
) -> None:
    manual = manual_stack
    submitted = await complete_request(manual, "manual", product="Organic cashew kernels")
    request_id = submitted["id"]
    reviewer = await as_person(browser, manual, manual.reviewer)
    await reviewer.goto(f"{manual.url}/ui/requests/{request_id}")
    await reviewer.locator("#action-approve").get_by_role("button", name="Approve").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("Approved")

    # The issuing queue: the check awaits the reviewer, both operations linked to OID's public pages.
    await reviewer.goto(f"{manual.url}/ui/queues")
    issuing = reviewer.locator("#issuing")
    await expect(reviewer.locator("#count-issuing")).to_have_text("1")
    await expect(issuing.locator(".operations-check")).to_contain_text("to confirm")
    link = issuing.get_by_role("link", name="2000000001")
    await expect(link).to_have_attribute(
        "href", "https://organic.ams.usda.gov/Integrity/CP/OPP?nopid=2000000001"
    )
    await issuing.get_by_label(f"What you saw in OID for {request_id}").fill("both Certified, 2025-03-01")
    await issuing.get_by_role("button", name="Both Certified in OID, products in scope").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("Both operations are confirmed")
    await expect(reviewer.locator("#operations-check")).to_contain_text("confirmed")
    await expect(reviewer.locator("#audit")).to_contain_text("confirm operations")

    await reviewer.goto(f"{manual.url}/ui/queues")
    await expect(issuing).to_contain_text("0804502000")  # the HTS code to type into OID
    await expect(issuing).to_contain_text("Green Harbor Imports LLC")
    await snap(reviewer, "09-manual-issuing-queue")
    # A draft number is refused with the reason; the real one is recorded and the request moves on.
    await issuing.get_by_label("NOPIC number for Organic cashew kernels").fill("026-1000000001-000777 draft")
    await issuing.get_by_role("button", name="Record").click()
    await expect(reviewer.locator("#action-record-certificate .refused")).to_contain_text("draft")
    number = reviewer.locator("#action-record-certificate").get_by_label("Number from OID")
    await number.fill("026-1000000001-000777")
    record = reviewer.locator("#action-record-certificate")
    await record.get_by_role("button", name="Record the number").click()
    await expect(reviewer.locator("#certificates")).to_contain_text("026-1000000001-000777")
    for _ in range(50):
        if await reviewer.locator("h1 .badge").inner_text() == "awaiting transport document":
            break
        await reviewer.wait_for_timeout(200)
        await reviewer.reload()
    await expect(reviewer.locator("h1 .badge")).to_have_text("awaiting transport document")

    exporter = await as_person(browser, manual, manual.exporter)
    await exporter.goto(f"{manual.url}/ui/requests/{request_id}")
    transport = exporter.locator("#action-transport-document")
    shipment = first_shipment()
    await transport.locator('[name="document"]').set_input_files(DOCUMENTS / "bill-of-lading.pdf")
    await transport.locator('[name="shipped_on"]').fill(shipment["shipped_on"])
    await transport.locator('[name="kg.0"]').fill(shipment["quantities"][0]["net_kg"])
    await transport.get_by_role("button", name="Deliver it").click()
    await expect(exporter.locator("h1 .badge")).to_have_text("active")

    # Cancelling is a task: the NOPIC stays valid in OID, listed to cancel, until a reviewer confirms it.
    await reviewer.goto(f"{manual.url}/ui/requests/{request_id}")
    cancel = reviewer.locator("#action-cancel-certificates")
    await cancel.get_by_label("Reason").fill("the lot failed analysis")
    await cancel.get_by_role("button", name="Cancel").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("stays valid in OID")
    await expect(reviewer.locator("h1 .badge")).to_have_text("cancelling")
    await expect(reviewer.locator("#certificates")).to_contain_text("to cancel in OID")
    await reviewer.goto(f"{manual.url}/ui/queues")
    to_cancel = reviewer.locator("#to-cancel")
    await expect(to_cancel).to_contain_text("026-1000000001-000777")
    await expect(to_cancel).to_contain_text("the lot failed analysis")
    await snap(reviewer, "10-to-cancel-in-oid")
    await to_cancel.get_by_label("How NOPIC 026-1000000001-000777 was cancelled in OID").fill("Rita, in OID")
    await to_cancel.get_by_role("button", name="Cancelled in OID").click()
    await expect(reviewer.get_by_role("status")).to_contain_text("cancellation in OID is recorded")
    await expect(reviewer.locator("h1 .badge")).to_have_text("cancelled")
    await expect(reviewer.locator("#audit")).to_contain_text("is cancelled in OID; by hand: Rita, in OID")


async def test_an_exporter_corrects_the_data_a_reviewer_asked_about(
    browser: Browser, stack: ApiStack
) -> None:
    submitted = await complete_request(stack, "browser-corrections", product="Organic turmeric")
    async with stack.client(stack.reviewer) as http:
        asked = await http.post(
            f"/requests/{submitted['id']}/actions/request-corrections",
            json={"items": ["net weight"], "message": "The invoice says 1100 kg."},
        )
    assert asked.status_code == 200, asked.text

    exporter = await as_person(browser, stack, stack.exporter)
    await exporter.goto(f"{stack.url}/ui/requests/{submitted['id']}")
    await expect(exporter.locator(".warn-box")).to_contain_text("The invoice says 1100 kg.")
    await exporter.get_by_role("link", name="correct the request data").click()
    form = exporter.locator("form.request-form")
    await expect(form.locator('[name="commodities.0.product_name"]')).to_have_value("Organic turmeric")
    await form.locator('[name="commodities.0.net_kg"]').fill("1100")
    await snap(exporter, "10-exporter-corrects")
    await form.get_by_role("button", name="Send the corrections").click()
    await expect(exporter.get_by_role("status")).to_contain_text("corrected data are sent")
    await expect(exporter.locator("#certificates")).to_contain_text("1100")
