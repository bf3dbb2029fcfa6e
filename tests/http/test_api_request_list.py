"""`GET /requests` over rows written straight into the read model: pages by cursor and by offset, the
product-text filter, and what a bad cursor gets. The API runs in-process on a database of the test's own."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.records import RequestSummary
from domain.state import RequestStatus
from tests.support.request_rows import (
    BASE,
    EXPORTER_OPERATION,
    OTHER_OPERATION,
    ListApi,
    insert,
    list_api,
    summary,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

SORT_KEYS = [
    "customs_deadline",
    "etd",
    "received_at",
    "updated_at",
    "lead_working_days",
    "status",
    "exporter_name",
]
STATUSES = [RequestStatus.ACTIVE, RequestStatus.EXPIRED, RequestStatus.IN_REVIEW]


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[ListApi]:
    async with list_api(database_url, tmp_path) as running:
        yield running


def tied_rows(count: int) -> list[RequestSummary]:
    """Rows whose every sort key takes only a few values, so most pages end in the middle of a tie."""
    return [
        summary(
            f"K{n:03d}",
            status=STATUSES[n % 3],
            exporter_operation_id=EXPORTER_OPERATION if n % 2 else OTHER_OPERATION,
            exporter_name="Exporter B" if n % 4 < 2 else "Exporter A",
            etd=date(2026, 3, 20) + timedelta(days=n % 2),
            customs_deadline=BASE + timedelta(days=n % 4),
            received_at=BASE - timedelta(hours=n % 3),
            updated_at=BASE + timedelta(minutes=n % 5),
            lead_working_days=n % 3,
        )
        # Written in an order of their own, so neither the ids nor the table's order give the answer.
        for n in sorted(range(count), key=lambda n: (n * 7) % count)
    ]


def in_order(rows: list[RequestSummary], sort: str, descending: bool) -> list[str]:
    ordered = sorted(rows, key=lambda r: (getattr(r, sort), r.request_id), reverse=descending)
    return [r.request_id for r in ordered]


async def page(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    answer = await http.get("/requests", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def by_cursor(http: httpx.AsyncClient, limit: int, **params: Any) -> tuple[list[list[str]], int]:
    """Every page of a list, following `next_after`; the ids of each page and the last page's total."""
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        body = await page(http, limit=limit, **params, **({"after": after} if after else {}))
        pages.append([item["request_id"] for item in body["items"]])
        after = body["next_after"]
        if after is None:
            return pages, body["total"]
        assert len(pages) < 100, "next_after never ends"


def error_fields(answer: httpx.Response) -> list[tuple[str, str]]:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    return [(f["field"], f["rule"]) for f in error["fields"]]


async def test_pages_by_cursor_give_every_row_once_in_order_through_ties_in_every_sort_key(
    api: ListApi,
) -> None:
    rows = tied_rows(23)
    await insert(api.pool, rows)
    for sort in SORT_KEYS:
        for descending in (False, True):
            expected = in_order(rows, sort, descending)
            pages, total = await by_cursor(api.reviewer, 4, sort=sort, descending=descending)
            assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3], (sort, descending)
            assert [i for p in pages for i in p] == expected, (sort, descending)
            assert total == 23
            # Offsets, as the dashboard and the CLI page, give the same pages.
            for number, start in enumerate(range(0, 23, 4)):
                body = await page(api.reviewer, sort=sort, descending=descending, limit=4, offset=start)
                assert [i["request_id"] for i in body["items"]] == pages[number], (sort, descending, start)


async def test_a_cursor_keeps_its_filters_and_an_exporter_pages_through_its_own_requests_only(
    api: ListApi,
) -> None:
    rows = tied_rows(23)
    await insert(api.pool, rows)
    own = [r for r in rows if r.exporter_operation_id == EXPORTER_OPERATION]
    pages, total = await by_cursor(api.exporter, 3, sort="customs_deadline", descending=True)
    assert [i for p in pages for i in p] == in_order(own, "customs_deadline", True)
    assert total == len(own)

    # A last page as long as the others is the last: no cursor to an empty page after it.
    pages, total = await by_cursor(api.reviewer, 23)
    assert [len(p) for p in pages] == [23]

    in_review = [r for r in rows if r.status is RequestStatus.IN_REVIEW]
    pages, total = await by_cursor(api.reviewer, 2, status="in_review", sort="lead_working_days")
    assert [i for p in pages for i in p] == in_order(in_review, "lead_working_days", False)
    assert total == len(in_review)


async def test_rows_written_between_pages_neither_repeat_nor_hide_the_next_page(api: ListApi) -> None:
    rows = tied_rows(12)
    await insert(api.pool, rows)
    first = await page(api.reviewer, sort="received_at", limit=5)
    # A newer request before the cursor's row: with offset=5 the next page would repeat the fifth row.
    await insert(api.pool, [summary("A000", received_at=BASE - timedelta(days=30))])
    second = await page(api.reviewer, sort="received_at", limit=5, after=first["next_after"])
    expected = in_order(rows, "received_at", False)
    assert [i["request_id"] for i in first["items"]] == expected[:5]
    assert [i["request_id"] for i in second["items"]] == expected[5:10]
    assert second["total"] == 13


async def test_the_product_filter_finds_text_in_a_name_whatever_its_case_as_ilike_does(api: ListApi) -> None:
    names = {
        "P1": ["Organic Cocoa Nibs"],
        "P2": ["ORGANIC QUINOA FLAKES", "Organic cocoa butter"],
        "P3": ["organic quinoa"],
        "P4": ["Kakao 100%_pure"],
        "P5": ["Organic cocoa", "nibs"],
        "P6": ["Café Ñandú GRANOS", "Äpfel"],
    }
    await insert(api.pool, [summary(request_id, product_names=n) for request_id, n in names.items()])

    async def found(text: str) -> list[str]:
        body = await page(api.reviewer, product=text, sort="etd", limit=200)
        assert body["total"] == len(body["items"])
        return sorted(i["request_id"] for i in body["items"])

    assert await found("COCOA") == ["P1", "P2", "P5"]
    assert await found("quinoa fl") == ["P2"]
    assert await found("Nibs") == ["P1", "P5"]
    # LIKE's wildcards in the text match themselves.
    assert await found("100%_") == ["P4"]
    assert await found("100%x") == []
    assert await found("o_g") == []
    assert await found("o%n") == []
    # A match never spans two names.
    assert await found("cocoa nibs") == ["P1"]
    assert await found("cocoa\x1fnibs") == []
    # Beyond ASCII, case folds as PostgreSQL's own ILIKE folds it, name by name.
    for text in ("CAFÉ", "ñandú granos", "äPFEL", "k"):
        expected = await api.pool.fetch(
            "SELECT request_id FROM requests WHERE EXISTS "
            "(SELECT 1 FROM unnest(product_names) p WHERE p ILIKE '%' || $1 || '%') ORDER BY 1",
            text,
        )
        assert await found(text) == [r["request_id"] for r in expected], text


def forged(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


async def test_an_after_that_is_no_cursor_of_this_list_is_refused_naming_the_field_and_its_rule(
    api: ListApi,
) -> None:
    await insert(api.pool, tied_rows(5))
    cursor = (await page(api.reviewer, sort="etd", limit=2))["next_after"]
    assert cursor is not None
    http = api.reviewer
    for after in (
        "not a cursor",
        "bm90IGpzb24",  # base64 of "not json"
        forged("customs_deadline", False, "yesterday", "K001"),  # the value is no time
        forged("customs_deadline", False, "2026-03-02T09:00:00", "K001"),  # a time without its zone
        forged("lead_working_days", False, "3", "K001"),  # a number as text
        forged("password", False, 1, "K001"),  # no such sort key
        forged("etd", False, "2026-03-20"),  # one part missing
        json.dumps({"sort": "etd"}),
    ):
        answer = await http.get("/requests", params={"after": after, "sort": "customs_deadline"})
        assert error_fields(answer) == [("query.after", "cursor_malformed")], after
        assert answer.json()["error"]["message"].startswith("The request has invalid fields: query.after: ")

    other_order = await http.get("/requests", params={"after": cursor, "sort": "etd", "descending": True})
    assert error_fields(other_order) == [("query.after", "cursor_other_order")]
    assert "sort=etd, descending=false" in other_order.json()["error"]["message"]
    with_offset = await http.get("/requests", params={"after": cursor, "sort": "etd", "offset": 2})
    assert error_fields(with_offset) == [("query.after", "cursor_with_offset")]
    too_long = await http.get("/requests", params={"after": "x" * 401, "sort": "etd"})
    assert error_fields(too_long) == [("query.after", "string_too_long")]
    # The cursor itself still works with its own order.
    assert (await page(http, after=cursor, sort="etd", limit=2))["items"]
