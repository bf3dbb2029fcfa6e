"""The request list (`GET /requests`, the dashboard's lists): the `requests` read model filtered, sorted and
paged in one statement, the total and the page together, by offset or by a keyset cursor; and one request's
operation, for the API's access check without a workflow query.

The table and its writer are `records_pg.py`'s; this module only reads it.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic_core import to_jsonable_python

from activities.records import RequestSummary
from activities.records_pg import SELECT_SUMMARY
from domain.state import RequestStatus


class SortKey(StrEnum):
    CUSTOMS_DEADLINE = "customs_deadline"
    ETD = "etd"
    RECEIVED_AT = "received_at"
    UPDATED_AT = "updated_at"
    LEAD_WORKING_DAYS = "lead_working_days"
    STATUS = "status"
    EXPORTER_NAME = "exporter_name"


class RequestFilters(BaseModel):
    statuses: list[RequestStatus] = Field(default_factory=list)
    exporter: str | None = None
    importer: str | None = None
    late: bool | None = None
    customs_deadline_before: datetime | None = None
    customs_deadline_after: datetime | None = None
    updated_after: datetime | None = None
    product: str | None = None


class RequestPage(BaseModel):
    items: list[RequestSummary]
    total: int = Field(description="How many requests match the filters, over all pages.")
    limit: int
    offset: int
    next_after: str | None = Field(
        default=None,
        description="The next page's cursor: send it as `after`, with the same filters and order. "
        "None on the last page.",
    )


# What a pool serving the lists sets on each connection. A prepared statement is planned for the values it
# is given only for its first five runs; after that PostgreSQL may keep a generic plan, which guesses that
# any product text matches 0.5% of the rows and then reads all of a word's matches twice, for the page and
# for the total (for 'cocoa', in 11% of the rows: twice the time, measured). Planning the list afresh costs
# well under a millisecond.
LIST_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


class CursorInvalid(ValueError):
    """An `after` that is not a cursor of this list; `rule` names what is wrong, as a field error does."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


# Every sort key's column is NOT NULL (so no NULLS clause: a descending list reads its index backwards),
# with the type a cursor's value is read back as.
_SORT_VALUES: dict[SortKey, TypeAdapter[Any]] = {
    SortKey.CUSTOMS_DEADLINE: TypeAdapter(AwareDatetime),
    SortKey.ETD: TypeAdapter(date),
    SortKey.RECEIVED_AT: TypeAdapter(AwareDatetime),
    SortKey.UPDATED_AT: TypeAdapter(AwareDatetime),
    SortKey.LEAD_WORKING_DAYS: TypeAdapter(StrictInt),
    SortKey.STATUS: TypeAdapter(str),
    SortKey.EXPORTER_NAME: TypeAdapter(str),
}
_FLAG = TypeAdapter(StrictBool)
_TEXT = TypeAdapter(StrictStr)


class PageCursor(BaseModel):
    """Where a page ended: its last row's sort value and request id, and the order they belong to. The next
    page starts after that row whatever was written since (offsets shift when rows come or go)."""

    model_config = ConfigDict(frozen=True)

    sort: SortKey
    descending: bool
    value: Any
    request_id: str

    @classmethod
    def after_row(cls, row: RequestSummary, sort: SortKey, descending: bool) -> PageCursor:
        value = getattr(row, sort.value)
        return cls(sort=sort, descending=descending, value=value, request_id=row.request_id)

    def encode(self) -> str:
        """Opaque to clients: URL-safe base64 of a JSON list, so only this module knows what is inside."""
        data = [self.sort.value, self.descending, to_jsonable_python(self.value), self.request_id]
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: SortKey, descending: bool) -> PageCursor:
        """The cursor `text` stands for, if it belongs to a list in this order; `CursorInvalid` otherwise."""
        malformed = CursorInvalid("cursor_malformed", "is not a cursor of this service (a page's next_after)")
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            key, was_descending, value, request_id = raw
            cursor = cls(
                sort=SortKey(key),
                descending=_FLAG.validate_python(was_descending),
                value=_SORT_VALUES[SortKey(key)].validate_python(value),
                request_id=_TEXT.validate_python(request_id),
            )
        except (ValueError, TypeError) as exc:  # bad base64, JSON, shape or value (ValidationError too)
            raise malformed from exc
        if (cursor.sort, cursor.descending) != (sort, descending):
            order = f"sort={cursor.sort.value}, descending={str(cursor.descending).lower()}"
            message = f"belongs to the list in another order ({order}): send that order with it"
            raise CursorInvalid("cursor_other_order", message)
        return cursor


_NAME_SEPARATOR = "\x1f"  # as `request_product_text` joins the names


def _where(filters: RequestFilters, args: list[Any]) -> list[str]:
    """The filters' conditions, their values appended to `args` (placeholders numbered after those in it)."""
    clauses: list[str] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.statuses:
        clauses.append(f"status = ANY({arg([s.value for s in filters.statuses])}::text[])")
    if filters.exporter:
        clauses.append(f"exporter_operation_id = {arg(filters.exporter)}")
    if filters.importer:
        clauses.append(f"importer_operation_id = {arg(filters.importer)}")
    if filters.late is not None:
        # Written out, not a parameter, so the planner can use the partial index of late requests.
        clauses.append("late" if filters.late else "NOT late")
    if filters.customs_deadline_before:
        clauses.append(f"customs_deadline < {arg(filters.customs_deadline_before)}")
    if filters.customs_deadline_after:
        clauses.append(f"customs_deadline >= {arg(filters.customs_deadline_after)}")
    if filters.updated_after:
        clauses.append(f"updated_at >= {arg(filters.updated_after)}")
    if filters.product:
        # Substring, case-insensitive; the LIKE wildcards in what the person typed match themselves.
        escaped = filters.product.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = arg(f"%{escaped}%")
        # A request's `product_text` (migration 0060: its names joined by U+001F, lowercased once) is kept
        # once in `product_texts` and named by `product_text_id` (0061): the LIKE runs over the distinct
        # texts through their trigram index, and the requests are found, and counted index-only, by id.
        # A plain LIKE of lowercased text matches as ILIKE would. Only text holding U+001F could match
        # across two names, and only then is each name checked on its own.
        clauses.append(f"product_text_id IN (SELECT id FROM product_texts WHERE text LIKE lower({pattern}))")
        if _NAME_SEPARATOR in filters.product:
            clauses.append(f"EXISTS (SELECT 1 FROM unnest(product_names) p WHERE p ILIKE {pattern})")
    return clauses


def list_statement(
    filters: RequestFilters,
    *,
    sort: SortKey = SortKey.CUSTOMS_DEADLINE,
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
    after: PageCursor | None = None,
) -> tuple[str, list[Any]]:
    """The one statement of a list, with its arguments: the total and up to `limit + 1` rows of the page
    (one more tells whether a next page exists). One row with a NULL request id when the page is empty.

    The total and the page are two subqueries, each planned on its own: the page keeps its top-N read along
    an index in the list's order, which a window count over the same rows would lose. The page starts after
    the cursor's row, if any, then skips `offset` rows."""
    args: list[Any] = []
    matching = _where(filters, args)
    page = list(matching)
    direction = "DESC" if descending else "ASC"
    # `sort` is an enum member, never the caller's text, so it is safe in the statement.
    key = sort.value
    if after is not None:
        args += [after.value, after.request_id]
        # One row comparison, in the list's own order: the index on the sort key serves it.
        page.append(f"({key}, request_id) {'<' if descending else '>'} (${len(args) - 1}, ${len(args)})")
    args += [limit + 1, offset]

    def where(clauses: list[str]) -> str:
        return (" WHERE " + " AND ".join(clauses)) if clauses else ""

    order = f"{key} {direction}, request_id {direction}"
    statement = (
        f"SELECT t.total, p.* FROM (SELECT count(*) AS total FROM requests{where(matching)}) AS t "
        f"LEFT JOIN (SELECT {SELECT_SUMMARY} FROM requests{where(page)} "
        f"ORDER BY {order} LIMIT ${len(args) - 1} OFFSET ${len(args)}) AS p "
        f"ON true ORDER BY p.{key} {direction}, p.request_id {direction}"
    )
    return statement, args


_SUMMARIES = TypeAdapter(list[RequestSummary])


async def list_requests(
    pool: asyncpg.Pool,
    filters: RequestFilters,
    *,
    sort: SortKey = SortKey.CUSTOMS_DEADLINE,
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
    after: PageCursor | None = None,
) -> RequestPage:
    """A page of the list and its total, in one round trip to PostgreSQL."""
    statement, args = list_statement(
        filters, sort=sort, descending=descending, limit=limit, offset=offset, after=after
    )
    rows = await pool.fetch(statement, *args)
    # One validation of the whole page, not one per row: the rows go to pydantic-core in one call.
    items = _SUMMARIES.validate_python([dict(row) for row in rows[:limit] if row["request_id"] is not None])
    more = len(rows) > limit
    return RequestPage(
        items=items,
        total=rows[0]["total"],
        limit=limit,
        offset=offset,
        next_after=PageCursor.after_row(items[-1], sort, descending).encode() if more else None,
    )


async def exporter_operation_of(pool: asyncpg.Pool, request_id: str) -> str | None:
    """The operation a request is for, as its read-model row says (a lookup by the primary key); None when
    it has no row: unknown, or its submission not yet listed."""
    operation_id: str | None = await pool.fetchval(
        "SELECT exporter_operation_id FROM requests WHERE request_id = $1", request_id
    )
    return operation_id
