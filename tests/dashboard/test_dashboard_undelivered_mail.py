"""Messages the mail server refused for good, as staff and the exporter see them: on the request page, in a
real browser, and in the API's request detail, against the whole service (its SMTP sink refuses
`REFUSED_EMAILS`, as a server does mailboxes that do not exist)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from activities.documents import DocumentStore
from tests.support.browser import as_person, snap
from tests.support.stack import (
    REFUSED_EMAILS,
    WAIT_SECONDS,
    ApiStack,
    Person,
    complete_request,
    request_body,
    store_documents,
    wait_for,
)
from web.dashboard import when

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXPORTER_EMAIL, IMPORTER_EMAIL = REFUSED_EMAILS


async def detail(stack: ApiStack, person: Person, request_id: str) -> dict[str, Any]:
    async with stack.client(person) as http:
        answer = await http.get(f"/requests/{request_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def issued(stack: ApiStack, request_id: str) -> None:
    """Approved by the reviewer, and issued: the NOPIC mail to the exporter and the importer is queued."""
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(f"/requests/{request_id}/actions/approve", json={})
        assert answer.status_code == 200, answer.text
        await wait_for(http, request_id, "awaiting_transport_document")


async def settled(stack: ApiStack, request_id: str, given_up: int) -> list[dict[str, Any]]:
    """Once every queued message of the request is sent or given up (`given_up` of them): the reviewer's
    list of those given up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        open_rows = await stack.pool.fetchval(
            "SELECT count(*) FROM mail_queue q LEFT JOIN sent_messages s USING (event_id) "
            "WHERE q.request_id = $1 AND q.given_up_at IS NULL AND s.sent_at IS NULL",
            request_id,
        )
        undelivered: list[dict[str, Any]] = (await detail(stack, stack.reviewer, request_id))["undelivered"]
        if open_rows == 0 and len(undelivered) >= given_up:
            return undelivered
        if loop.time() > deadline:
            raise AssertionError(f"{request_id}: {open_rows} messages still queued, {undelivered}")
        await asyncio.sleep(0.2)


async def test_messages_refused_for_good_are_shown_to_reviewers_and_the_exporter_sees_its_own(
    browser: Browser, stack: ApiStack
) -> None:
    documents = await store_documents(DocumentStore.from_settings(stack.settings, stack.pool), "undelivered")
    body = request_body(documents=documents, product="Organic cashews")
    body["exporter"]["email"] = EXPORTER_EMAIL
    body["importer"]["email"] = IMPORTER_EMAIL
    async with stack.client(stack.exporter) as http:
        answer = await http.post("/requests", json=body)
    assert answer.status_code == 201, answer.text
    request_id = answer.json()["id"]
    await issued(stack, request_id)

    # The API's reviewer view: both NOPIC messages, whom they were for and the server's reason.
    undelivered = await settled(stack, request_id, given_up=2)
    assert [(m["kind"], m["audience"], m["address"]) for m in undelivered] == [
        ("nopic_issued", "exporter", EXPORTER_EMAIL),
        ("nopic_issued", "importer", IMPORTER_EMAIL),
    ]
    for m in undelivered:
        assert m["event_id"].startswith(f"{request_id}:")
        assert "550" in m["reason"] and m["address"] in m["reason"], m["reason"]
        queued_at, given_up_at = (datetime.fromisoformat(m[k]) for k in ("queued_at", "given_up_at"))
        assert queued_at.utcoffset() is not None and queued_at <= given_up_at
    # The exporter's view: its own message only, no word of the importer's.
    mine = (await detail(stack, stack.exporter, request_id))["undelivered"]
    assert mine == [undelivered[0]]

    # The reviewer's page: the section, what to do, each message with its times in the certifier's zone.
    state = (await detail(stack, stack.reviewer, request_id))["state"]
    zone = ZoneInfo(state["policy"]["timezone"])
    reviewer = await as_person(browser, stack, stack.reviewer)
    await reviewer.goto(f"{stack.url}/ui/requests/{request_id}")
    section = reviewer.locator("#undelivered")
    await expect(section.get_by_role("heading", name="Messages not delivered")).to_be_visible()
    await expect(section).to_contain_text("refused these messages for good")
    await expect(section).to_contain_text("Contact the party another way")
    await expect(section).to_contain_text("Fix the address")
    rows = section.locator("tbody tr")
    await expect(rows).to_have_count(2)
    for row, m in zip(await rows.all(), undelivered, strict=True):
        await expect(row).to_contain_text("nopic issued")
        await expect(row).to_contain_text(f"{m['audience']} <{m['address']}>")
        await expect(row).to_contain_text(m["reason"])
        for key in ("queued_at", "given_up_at"):
            await expect(row).to_contain_text(when(datetime.fromisoformat(m[key]), zone))
    await snap(reviewer, "undelivered-01-reviewer")

    # The exporter's page: its own message, worded for it; never the importer's address or reason.
    exporter = await as_person(browser, stack, stack.exporter)
    await exporter.goto(f"{stack.url}/ui/requests/{request_id}")
    mine_section = exporter.locator("#undelivered")
    await expect(mine_section).to_contain_text("refused your address for good")
    await expect(mine_section.locator("tbody tr")).to_have_count(1)
    await expect(mine_section).to_contain_text(EXPORTER_EMAIL)
    await expect(mine_section).not_to_contain_text(IMPORTER_EMAIL)
    await expect(mine_section).not_to_contain_text("importer")
    await snap(exporter, "undelivered-02-exporter")


async def test_a_request_whose_mail_all_went_out_shows_no_such_section(
    browser: Browser, stack: ApiStack
) -> None:
    request_id = (await complete_request(stack, "all-delivered", product="Organic walnuts"))["id"]
    await issued(stack, request_id)
    assert await settled(stack, request_id, given_up=0) == []
    sent = await stack.pool.fetchval(
        "SELECT count(*) FROM mail_queue WHERE request_id = $1 AND given_up_at IS NULL", request_id
    )
    assert sent >= 3  # the review team's new request, the NOPICs to the exporter and to the importer
    assert (await detail(stack, stack.exporter, request_id))["undelivered"] == []

    reviewer = await as_person(browser, stack, stack.reviewer)
    await reviewer.goto(f"{stack.url}/ui/requests/{request_id}")
    await expect(reviewer.locator("#certificates")).to_contain_text("PDF")
    await expect(reviewer.locator("#undelivered")).to_have_count(0)
    await expect(reviewer.get_by_text("Messages not delivered")).to_have_count(0)


async def test_the_api_documents_the_list_in_its_schema(stack: ApiStack) -> None:
    async with stack.client() as http:
        schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    undelivered = schemas["RequestDetail"]["properties"]["undelivered"]
    assert undelivered["items"] == {"$ref": "#/components/schemas/UndeliveredMessage"}
    assert "refused for good" in undelivered["description"]
    message = schemas["UndeliveredMessage"]
    fields = {"event_id", "kind", "audience", "address", "queued_at", "given_up_at", "reason"}
    assert set(message["required"]) == fields
    assert message["properties"]["given_up_at"]["format"] == "date-time"
    assert "NOPIC_REVIEW_TEAM_EMAIL" in message["properties"]["address"]["description"]
