"""Every page and document answer carries the security headers: a strict CSP, no framing, no sniffing, no
referrer, no-store where people's data is; documents as sandboxed attachments; HSTS over HTTPS only."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings
from tests.support.stack import ApiStack, complete_request, wait_for
from web.main import create_app

pytestmark = pytest.mark.asyncio(loop_scope="session")

STRICT = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "


def assert_guarded(answer: httpx.Response, *, stored: bool = False) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    headers = answer.headers
    assert headers["x-content-type-options"] == "nosniff", where
    assert headers["referrer-policy"] == "no-referrer", where
    assert headers["x-frame-options"] == "DENY", where
    assert "frame-ancestors 'none'" in headers["content-security-policy"], where
    assert "strict-transport-security" not in headers, where
    if not stored:
        assert headers["cache-control"] == "no-store", where


async def test_every_page_and_answer_carries_the_headers(stack: ApiStack) -> None:
    submitted = await complete_request(stack, "headers")
    request_id = submitted["id"]
    async with stack.client(stack.reviewer) as http:
        await http.post(f"/requests/{request_id}/actions/approve", json={})
        state = await wait_for(http, request_id, "awaiting_transport_document")
        number = state["certificates"][0]["number"]
        document = state["form"]["documents"][0]["sha256"]
        answers = [
            await http.get("/health"),
            await http.get(f"/requests/{request_id}"),
            await http.get("/requests"),
            await http.get("/requests/nope"),
            await http.post("/requests", json={}),
        ]
        attachments = [
            await http.get(f"/requests/{request_id}/documents/{document}"),
            await http.get(f"/requests/{request_id}/certificates/{number}.pdf"),
        ]
    async with stack.client() as anonymous:
        answers += [await anonymous.get(path) for path in ("/ui/login", "/me", "/docs")]
        stylesheet = await anonymous.get("/ui/static/style.css")
    for person, pages in (
        (stack.reviewer, ["/ui/queues", "/ui/requests", f"/ui/requests/{request_id}", "/ui/requests/new"]),
        (stack.exporter, ["/ui/requests", f"/ui/requests/{request_id}", "/ui/account"]),
        (stack.admin, ["/ui/users", "/ui/requests/nope"]),
    ):
        page = await stack.dashboard(person)
        try:
            answers += [await page.get(path) for path in pages]
        finally:
            await page.aclose()

    for answer in answers:
        assert_guarded(answer)
        if answer.request.url.path != "/docs":
            assert answer.headers["content-security-policy"].startswith(STRICT), answer.request.url.path
    for attachment in attachments:
        assert attachment.status_code == 200
        assert_guarded(attachment)
        assert attachment.headers["content-disposition"].startswith("attachment; filename=")
        assert attachment.headers["content-security-policy"].startswith("sandbox;")
    assert stylesheet.status_code == 200
    assert_guarded(stylesheet, stored=True)
    assert "no-store" not in stylesheet.headers.get("cache-control", ""), "the stylesheet may be cached"


async def test_hsts_once_served_over_https() -> None:
    app = create_app(Settings(cookie_secure=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://nopic.test") as http:
        answer = await http.get("/ui/login")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
