"""Bad input through the HTTP API: each gets a clear 4xx in the one error shape, naming the field and the
rule; nothing changes (the request's state and its read-model row stay as they were); nothing crashes (the
next call is served)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.stack import PDF, ApiStack, request_body

pytestmark = pytest.mark.faults

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64  # a Windows program's first bytes


@pytest.fixture(scope="module")
async def request_id(stack: ApiStack) -> str:
    """A request awaiting documents: the target of every bad call below."""
    async with stack.client(stack.exporter) as http:
        answer = await http.post("/requests", json=request_body(product="Organic cashews"))
    assert answer.status_code == 201, answer.text
    request_id: str = answer.json()["id"]
    return request_id


async def snapshot(stack: ApiStack, request_id: str) -> tuple[Any, ...]:
    """What must not change: the live state, the read-model row, the audit trail, the stored documents."""
    async with stack.client(stack.reviewer) as http:
        detail = (await http.get(f"/requests/{request_id}")).json()
    row = await stack.pool.fetchrow("SELECT * FROM requests WHERE request_id = $1", request_id)
    documents = await stack.pool.fetchval("SELECT count(*) FROM documents")
    files = sorted(p.name for p in stack.settings.documents_dir.rglob("*") if p.is_file())
    return detail["state"], detail["audit"], dict(row or {}), documents, files


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"], error
    return error


def fields_of(error: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["rule"] for f in error["fields"]}


def form_with(path: str, value: Any) -> dict[str, Any]:
    """A valid form with one value replaced, e.g. `commodities.0.net_kg`."""
    body = request_body(product="Organic cashews")
    *parents, last = path.split(".")
    node: Any = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return body


JSON_CASES: list[tuple[str, str, Any, int, str, str]] = [
    # (name, method path, body, status, field, rule)
    (
        "wrong type",
        "/requests",
        form_with("commodities.0.net_kg", "a lot"),
        422,
        "body.commodities.0.net_kg",
        "decimal_parsing",
    ),
    (
        "wrong type of date",
        "/requests",
        form_with("shipment.etd", ["2026-12-01"]),
        422,
        "body.shipment.etd",
        "date_type",
    ),
    (
        "huge string",
        "/requests",
        form_with("commodities.0.product_name", "x" * 100_000),
        422,
        "body.commodities.0.product_name",
        "string_too_long",
    ),
    (
        "control characters in free text",
        "/requests/{id}/actions/refuse",
        {"reason": "fine\x00\x1b[31m"},
        422,
        "body.reason",
        "control_characters",
    ),
    (
        "unknown field",
        "/requests/{id}/actions/approve",
        {"note": "ok", "approved": True},
        422,
        "body.approved",
        "extra_forbidden",
    ),
]


@pytest.mark.parametrize(
    ("name", "path", "body", "status", "field", "rule"), JSON_CASES, ids=[c[0] for c in JSON_CASES]
)
async def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(
    stack: ApiStack, request_id: str, name: str, path: str, body: Any, status: int, field: str, rule: str
) -> None:
    before = await snapshot(stack, request_id)
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(path.format(id=request_id), json=body)
    error = error_of(answer, status)
    assert fields_of(error).get(field) == rule, error
    assert field.removeprefix("body.") in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_malformed_json_is_refused_and_changes_nothing(stack: ApiStack, request_id: str) -> None:
    before = await snapshot(stack, request_id)
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(
            f"/requests/{request_id}/actions/refuse",
            content=b'{"reason": "unterminated',
            headers={"Content-Type": "application/json"},
        )
    error = error_of(answer, 422)
    assert fields_of(error) == {"body": "json_invalid"}, error
    assert "not valid JSON (at character 11" in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_an_oversized_json_body_is_refused_with_413(stack: ApiStack, request_id: str) -> None:
    before = await snapshot(stack, request_id)
    huge = {"reason": "x" * (2 * 1024 * 1024)}
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(f"/requests/{request_id}/actions/refuse", json=huge)
        error = error_of(answer, 413)
        assert error["code"] == "body_too_large"
        assert fields_of(error) == {"body": "max_bytes"}
        assert "bytes" in error["message"]
        # Sent without a length up front (chunked), the limit holds all the same.
        chunks = (b'{"reason": "' + b"x" * 65536 for _ in range(40))

        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        answer = await http.post(
            f"/requests/{request_id}/actions/refuse",
            content=stream(),
            headers={"Content-Type": "application/json"},
        )
        assert error_of(answer, 413)["code"] == "body_too_large"
    assert await snapshot(stack, request_id) == before


UPLOAD_CASES: list[tuple[str, str, bytes, int, str, str]] = [
    # (name, file name, content, status, field, words in the message)
    ("program renamed .pdf", "invoice.pdf", EXE, 422, "files.0", "PDF, PNG or JPEG"),
    ("path in the file name", "../../etc/passwd", PDF, 422, "files.0", "not a path"),
    ("windows path in the file name", "..\\..\\boot.ini", PDF, 422, "files.0", "not a path"),
    ("empty file", "invoice.pdf", b"", 422, "files.0", "empty"),
]


@pytest.mark.parametrize(
    ("name", "filename", "content", "status", "field", "words"),
    UPLOAD_CASES,
    ids=[c[0] for c in UPLOAD_CASES],
)
async def test_a_bad_upload_is_refused_and_stores_nothing(
    stack: ApiStack,
    request_id: str,
    name: str,
    filename: str,
    content: bytes,
    status: int,
    field: str,
    words: str,
) -> None:
    before = await snapshot(stack, request_id)
    async with stack.client(stack.exporter) as http:
        answer = await http.post(
            f"/requests/{request_id}/documents",
            files=[("files", (filename, content, "application/pdf"))],
            data={"kind": ["commercial_invoice"]},
        )
    error = error_of(answer, status)
    assert field in fields_of(error), error
    assert words in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_an_oversized_upload_is_refused_with_413(stack: ApiStack, request_id: str) -> None:
    before = await snapshot(stack, request_id)
    too_big = PDF + b"0" * stack.settings.max_upload_bytes
    async with stack.client(stack.exporter) as http:
        answer = await http.post("/documents", files={"file": ("big.pdf", too_big, "application/pdf")})
    error = error_of(answer, 413)
    assert fields_of(error) == {"file": "max_bytes"}
    assert str(stack.settings.max_upload_bytes) in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_an_unknown_action_is_404_naming_the_actions(stack: ApiStack, request_id: str) -> None:
    before = await snapshot(stack, request_id)
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(f"/requests/{request_id}/actions/self-destruct", json={})
    error = error_of(answer, 404)
    assert error["code"] == "unknown_action"
    assert fields_of(error) == {"action": "unknown_action"}
    assert "approve" in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_an_action_in_the_wrong_state_is_409_with_the_reason(stack: ApiStack, request_id: str) -> None:
    before = await snapshot(stack, request_id)
    async with stack.client(stack.reviewer) as http:
        answer = await http.post(f"/requests/{request_id}/actions/cancel-certificates", json={"reason": "x"})
    error = error_of(answer, 409)
    assert error["code"] == "action_refused"
    assert "awaiting_documents" in error["message"]
    assert await snapshot(stack, request_id) == before


async def test_after_all_that_the_service_still_serves(stack: ApiStack, request_id: str) -> None:
    async with stack.client(stack.exporter) as http:
        assert (await http.get("/health")).status_code == 200
        answer = await http.post("/requests", json=request_body(product="Organic walnuts"))
    assert answer.status_code == 201, answer.text
