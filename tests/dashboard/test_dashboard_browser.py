"""The dashboard in a real browser (Debian's Chromium driven by playwright), against the whole service.

With NOPIC_SCREENSHOTS=<dir>, each step leaves a full-page screenshot there, to look at the pages.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment

from tests.support.dirs import EXAMPLES
from tests.support.postgres import TEMPLATE_DATABASE
from tests.support.stack import ApiStack, Person, complete_request, request_body, running_stack, today

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCUMENTS = EXAMPLES / "documents"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    # What a page shows after a click may wait on the workflow; on a busy machine that takes more than
    # playwright's 5 s default for an assertion.
    expect.set_options(timeout=30_000)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


async def snap(page: Page, name: str) -> None:
    folder = os.environ.get("NOPIC_SCREENSHOTS")
    if folder:  # playwright creates the folder
        await page.screenshot(path=f"{folder}/{name}.png", full_page=True)


# What Chromium reports blocked by the pages' Content-Security-Policy: the dashboard needs no inline
# script or style, so nothing may be.
CSP_VIOLATIONS: list[str] = []


async def signed_in(browser: Browser, stack: ApiStack, username: str, password: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.on(
        "console",
        lambda message: CSP_VIOLATIONS.append(f"{page.url}: {message.text}")
        if "Content Security Policy" in message.text
        else None,
    )
    await page.goto(f"{stack.url}/ui")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def as_person(browser: Browser, stack: ApiStack, person: Person) -> Page:
    return await signed_in(browser, stack, person.username, person.password)


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


async def test_manual_issuance_queue_shows_the_oid_data_and_takes_the_number(
    browser: Browser, dev_server_env: WorkflowEnvironment, postgres_server: str, tmp_path: Path
) -> None:
    async with running_stack(
        dev_server_env, postgres_server, TEMPLATE_DATABASE, tmp_path, issuance_mode="manual"
    ) as manual:
        submitted = await complete_request(manual, "manual", product="Organic cashew kernels")
        async with manual.client(manual.reviewer) as http:
            approved = await http.post(f"/requests/{submitted['id']}/actions/approve", json={})
        assert approved.json()["status"] == "issuing"

        reviewer = await as_person(browser, manual, manual.reviewer)
        issuing = reviewer.locator("#issuing")
        await expect(reviewer.locator("#count-issuing")).to_have_text("1")
        await expect(issuing).to_contain_text("Organic cashew kernels")
        await expect(issuing).to_contain_text("0804502000")  # the HTS code to type into OID
        await expect(issuing).to_contain_text("Green Harbor Imports LLC")
        await snap(reviewer, "09-manual-issuing-queue")

        # A draft number is refused with the reason; the real one is recorded and the request moves on.
        await issuing.get_by_label("NOPIC number for Organic cashew kernels").fill(
            "026-1000000001-000777 draft"
        )
        await issuing.get_by_role("button", name="Record").click()
        await expect(reviewer.locator("#action-record-certificate .refused")).to_contain_text("draft")
        number = reviewer.locator("#action-record-certificate").get_by_label("Number from OID")
        await number.fill("026-1000000001-000777")
        await (
            reviewer.locator("#action-record-certificate")
            .get_by_role("button", name="Record the number")
            .click()
        )
        await expect(reviewer.locator("#certificates")).to_contain_text("026-1000000001-000777")


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
