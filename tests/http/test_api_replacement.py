"""Replacement after issue over the HTTP API (`replace-certificate`), against the whole service: bad input
refused naming the field, then a NOPIC replaced in the OID sandbox, both linked in the API's state."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from pypdf import PdfReader

from tests.support.stack import WAIT_SECONDS, ApiStack, complete_request, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_replace_certificate_refuses_bad_input_naming_the_field_then_replaces(stack: ApiStack) -> None:
    request_id = (await complete_request(stack, "replace"))["id"]
    async with stack.client(stack.reviewer) as reviewer, stack.client(stack.exporter) as exporter:
        route = f"/requests/{request_id}/actions/replace-certificate"
        await wait_for(reviewer, request_id, "in_review")
        early = await reviewer.post(route, json={"commodity_index": 0, "reason": "typo", "net_kg": "10"})
        assert early.status_code == 409 and "awaiting_transport_document" in early.json()["error"]["message"]
        assert (await reviewer.post(f"/requests/{request_id}/actions/approve", json={})).status_code == 200
        state = await wait_for(reviewer, request_id, "awaiting_transport_document")
        [old] = state["certificates"]

        malformed = await reviewer.post(route, json={"commodity_index": 0, "reason": "typo", "net_kg": "-5"})
        assert malformed.status_code == 422
        assert [f["field"] for f in malformed.json()["error"]["fields"]] == ["body.net_kg"]
        unchanged = await reviewer.post(
            route, json={"commodity_index": 0, "reason": "typo", "net_kg": old["net_kg"]}
        )
        assert unchanged.status_code == 409
        assert unchanged.json()["error"]["message"].startswith(
            "product_name, net_kg, lot_numbers: nothing changed"
        )
        by_exporter = await exporter.post(
            route, json={"commodity_index": 0, "reason": "typo", "net_kg": "10"}
        )
        assert by_exporter.status_code == 403

        body: dict[str, Any] = {
            "commodity_index": 0,
            "reason": "the labels were reprinted",
            "lot_numbers": ["L-9"],
        }
        replaced = await reviewer.post(route, json=body)
        assert replaced.status_code == 200, replaced.text
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while True:
            state = (await reviewer.get(f"/requests/{request_id}")).json()["state"]
            [new] = state["certificates"]
            [superseded] = state["superseded"]
            if new["status"] == "issued" and superseded["status"] == "cancelled":
                break
            assert loop.time() < deadline, state
            await asyncio.sleep(0.1)
        assert new["replaces"] == old["number"] and superseded["replaced_by"] == new["number"]
        assert new["lot_numbers"] == ["L-9"]
        old_pdf = await exporter.get(f"/requests/{request_id}/certificates/{old['number']}.pdf")
        assert old_pdf.status_code == 200
        text = " ".join(PdfReader(io.BytesIO(old_pdf.content)).pages[0].extract_text().split())
        assert f"REPLACED BY NOPIC {new['number']}" in text
        page = await stack.dashboard(stack.reviewer)
        try:
            html = (await page.get(f"/ui/requests/{request_id}")).text
        finally:
            await page.aclose()
        assert f"(replaced by {new['number']})" in html and f"(replaces {old['number']})" in html
