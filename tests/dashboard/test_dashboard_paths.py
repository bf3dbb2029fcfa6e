"""The dashboard on the procedure's unhappy paths, in a real browser against the whole service: every form
with an action id of its own, so a form sent twice acts once."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import as_person, snap
from tests.support.stack import ApiStack, complete_request

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
