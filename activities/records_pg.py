"""The records in PostgreSQL (asyncpg): the audit trail and the `requests` read model, in one place.

This module owns the tables `requests`, `certificates`, `audit_events` and `document_references` (which
stored files each request refers to, from its changes): their columns, their writer (`PgRecordsStore`, the
records activity's store) and every query that reads them (the HTTP service's lists and audit trail, the
daily digest's lists). The writer also keeps a closed request whole (`request_records.py`). Lists come
from here, not from the workflows, so a dashboard of hundreds of requests is one indexed query.

One transaction per state change: the audit event first (its deterministic id makes a retry a no-op),
then the request's read-model row and its certificates, and once it has closed its whole state (table
`request_records`, kept for the retention period). A retry whose event is already there changes
nothing; a row is only overwritten by a change with a higher sequence, so nothing older wins.
"""

from __future__ import annotations

import base64
import json
import re
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

from activities.records import RecordChangeInput, RecordedChange, RequestSummary
from activities.request_records import DEFAULT_RETENTION_YEARS, UPSERT_RECORD
from core.logging import get_logger
from domain.state import CertificateStatus, RequestStatus

log = get_logger(__name__)

# The read model's row, column for column: what `RequestSummary` holds.
SUMMARY_COLUMNS = tuple(RequestSummary.model_fields)
_SELECT_SUMMARY = ", ".join(SUMMARY_COLUMNS)

_INSERT_EVENT = """
INSERT INTO audit_events
    (event_id, request_id, sequence, actor_id, actor_name, actor_role, action, payload, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
ON CONFLICT DO NOTHING
RETURNING true
"""


def _upsert_request() -> str:
    """The row from its summary; `product_search` is derived from the names, `last_sequence` guards order."""
    columns = [*SUMMARY_COLUMNS, "product_search", "last_sequence"]
    values = [f"${i}" for i in range(1, len(SUMMARY_COLUMNS) + 1)]
    names = f"${SUMMARY_COLUMNS.index('product_names') + 1}::text[]"
    values[SUMMARY_COLUMNS.index("product_names")] = names
    values += [f"to_tsvector('simple', array_to_string({names}, ' '))", f"${len(SUMMARY_COLUMNS) + 1}"]
    updates = ",\n    ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "request_id")
    return (
        f"INSERT INTO requests AS r ({', '.join(columns)})\nVALUES ({', '.join(values)})\n"
        f"ON CONFLICT (request_id) DO UPDATE SET\n    {updates}\n"
        "WHERE r.last_sequence < EXCLUDED.last_sequence"
    )


_UPSERT_REQUEST = _upsert_request()

_UPSERT_CERTIFICATE = """
INSERT INTO certificates AS c
    (request_id, commodity_index, nopic_number, product_name, hts_code, organic_standard, net_kg,
     lot_numbers, status, issued_at, cancelled_at, cancel_reason, updated_at, last_sequence,
     revision, cancellation_requested_at, oid_failure, replaces, replaced_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (request_id, commodity_index, revision) DO UPDATE SET
    nopic_number = EXCLUDED.nopic_number,
    product_name = EXCLUDED.product_name,
    hts_code = EXCLUDED.hts_code,
    organic_standard = EXCLUDED.organic_standard,
    net_kg = EXCLUDED.net_kg,
    lot_numbers = EXCLUDED.lot_numbers,
    status = EXCLUDED.status,
    issued_at = EXCLUDED.issued_at,
    cancelled_at = EXCLUDED.cancelled_at,
    cancel_reason = EXCLUDED.cancel_reason,
    updated_at = EXCLUDED.updated_at,
    last_sequence = EXCLUDED.last_sequence,
    cancellation_requested_at = EXCLUDED.cancellation_requested_at,
    oid_failure = EXCLUDED.oid_failure,
    replaces = EXCLUDED.replaces,
    replaced_by = EXCLUDED.replaced_by
WHERE c.last_sequence < EXCLUDED.last_sequence
"""


class PgRecordsStore:
    """The records port (`activities.records.RecordsStore`) on PostgreSQL: this module's one writer.

    A closed request's record is kept `retention_years` after it closed (its first closing change).
    """

    def __init__(self, pool: asyncpg.Pool, retention_years: int = DEFAULT_RETENTION_YEARS) -> None:
        self._pool = pool
        self._retention_years = retention_years

    async def record_change(self, change: RecordChangeInput) -> RecordedChange:
        event, summary = change.event, change.summary
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                _INSERT_EVENT,
                event.event_id,
                event.request_id,
                event.sequence,
                event.actor.person_id,
                event.actor.name,
                str(event.actor.role),
                event.action,
                to_jsonable_python(event.payload),
                event.at,
            )
            if not inserted:
                # An earlier attempt committed this very change: nothing more to write.
                log.info("records.already_recorded", event_id=event.event_id)
                return RecordedChange(event_id=event.event_id, inserted=False)
            payload = to_jsonable_python(event.payload)
            # What the change refers to in the document store: kept as long as the request's record.
            await conn.executemany(
                "INSERT INTO document_references (sha256, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(sha256, event.request_id) for sha256 in sorted(referenced_documents(payload))],
            )
            row = summary.model_dump()
            await conn.execute(
                _UPSERT_REQUEST,
                *(str(row[c]) if c == "status" else row[c] for c in SUMMARY_COLUMNS),
                event.sequence,
            )
            await conn.executemany(
                _UPSERT_CERTIFICATE,
                [
                    (
                        summary.request_id,
                        c.commodity_index,
                        c.number,
                        c.product_name,
                        c.hts_code,
                        str(c.organic_standard),
                        c.net_kg,
                        c.lot_numbers,
                        str(c.status),
                        c.issued_at,
                        c.cancelled_at,
                        c.cancel_reason,
                        summary.updated_at,
                        event.sequence,
                        c.revision,
                        c.cancellation_requested_at,
                        c.oid_failure,
                        c.replaces,
                        c.replaced_by,
                    )
                    for c in change.certificates
                ],
            )
            if change.closed_state is not None:
                await conn.execute(
                    UPSERT_RECORD,
                    summary.request_id,
                    change.closed_state.model_dump(mode="json"),
                    event.sequence,
                    str(change.closed_state.status),
                    event.at,
                    self._retention_years,
                )
        return RecordedChange(event_id=event.event_id, inserted=True)


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def referenced_documents(payload: Any) -> set[str]:
    """Every stored file a change's data names: each `sha256` anywhere in it (as migration 0042 finds)."""
    found: set[str] = set()
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "sha256" and isinstance(value, str) and _SHA256.match(value):
                found.add(value)
            else:
                found |= referenced_documents(value)
    elif isinstance(payload, list):
        for item in payload:
            found |= referenced_documents(item)
    return found


# --- the request lists --------------------------------------------------------------------------------


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
        # `product_text` (migration 0060) is the names joined by U+001F and lowercased once, when the row is
        # written: a plain LIKE of the lowercased text, through its trigram index, matches as ILIKE would
        # (which lowercases both sides of every row it checks). Only text holding U+001F could match across
        # two names, and only then is each name checked on its own.
        clauses.append(f"product_text LIKE lower({pattern})")
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
        f"LEFT JOIN (SELECT {_SELECT_SUMMARY} FROM requests{where(page)} "
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


# --- the daily digest's lists ---------------------------------------------------------------------------


class AttentionLists(BaseModel):
    """What needs the review team's attention, as the daily digest lists it."""

    awaiting_review: list[RequestSummary]
    late: list[RequestSummary]
    deadlines_soon: list[RequestSummary]
    overdue: list[RequestSummary]
    to_cancel: list[CertificateRow] = Field(default_factory=list)


# A request's deadline is its ETD until its NOPICs are issued, then its customs deadline.
# $1 statuses before issue, $2 today, $3 last day of the horizon, $4 now, $5 end of the horizon.
_SOON = f"""
SELECT {_SELECT_SUMMARY} FROM requests
WHERE (status = ANY($1::text[]) AND etd BETWEEN $2 AND $3)
   OR (status = 'awaiting_transport_document' AND customs_deadline >= $4 AND customs_deadline < $5)
ORDER BY CASE WHEN status = 'awaiting_transport_document' THEN customs_deadline ELSE etd::timestamptz END,
         request_id
"""
# $1 statuses before issue, $2 today, $3 now.
_OVERDUE = f"""
SELECT {_SELECT_SUMMARY} FROM requests
WHERE (status = ANY($1::text[]) AND etd < $2)
   OR (status = 'awaiting_transport_document' AND customs_deadline < $3)
ORDER BY etd, request_id
"""


async def attention_lists(
    pool: asyncpg.Pool,
    *,
    awaiting_review: frozenset[RequestStatus],
    before_issue: frozenset[RequestStatus],
    final: frozenset[RequestStatus],
    today: date,
    horizon: date,
    now: datetime,
    horizon_end: datetime,
) -> AttentionLists:
    def texts(statuses: frozenset[RequestStatus]) -> list[str]:
        return sorted(s.value for s in statuses)

    select = f"SELECT {_SELECT_SUMMARY} FROM requests"
    async with pool.acquire() as conn:
        awaiting = await conn.fetch(
            f"{select} WHERE status = ANY($1::text[]) ORDER BY etd, request_id", texts(awaiting_review)
        )
        late = await conn.fetch(
            f"{select} WHERE late AND NOT (status = ANY($1::text[])) ORDER BY etd, request_id", texts(final)
        )
        soon = await conn.fetch(_SOON, texts(before_issue), today, horizon, now, horizon_end)
        overdue = await conn.fetch(_OVERDUE, texts(before_issue), today, now)
    to_cancel = await cancellation_tasks(pool)

    def summaries(rows: list[Any]) -> list[RequestSummary]:
        return [RequestSummary.model_validate(dict(row)) for row in rows]

    return AttentionLists(
        awaiting_review=summaries(awaiting),
        late=summaries(late),
        deadlines_soon=summaries(soon),
        overdue=summaries(overdue),
        to_cancel=to_cancel,
    )


# --- the audit trail -----------------------------------------------------------------------------------


class AuditEntry(BaseModel):
    sequence: int
    actor_id: str
    actor_name: str
    actor_role: str
    action: str
    payload: dict[str, Any]
    occurred_at: AwareDatetime


async def audit_trail(pool: asyncpg.Pool, request_id: str) -> list[AuditEntry]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT sequence, actor_id, actor_name, actor_role, action, payload, occurred_at "
            "FROM audit_events WHERE request_id = $1 ORDER BY sequence",
            request_id,
        )
    return [AuditEntry.model_validate(dict(row)) for row in rows]


# --- certificates, and the NOPICs to cancel in OID ----------------------------------------------------------


class CertificateRow(BaseModel):
    """One certificate of the read model, with its request's parties: what a list of NOPICs shows."""

    request_id: str
    commodity_index: int
    revision: int
    nopic_number: str | None
    product_name: str
    hts_code: str
    status: CertificateStatus
    cancel_reason: str | None
    cancellation_requested_at: AwareDatetime | None
    oid_failure: str | None
    exporter_name: str
    importer_name: str
    replaces: str | None = None
    replaced_by: str | None = None


async def certificates_in(
    pool: asyncpg.Pool, status: CertificateStatus, limit: int = 500
) -> list[CertificateRow]:
    """Every certificate in `status`, the longest waiting for cancellation first, then by request."""
    rows = await pool.fetch(
        "SELECT c.request_id, c.commodity_index, c.revision, c.nopic_number, c.product_name, c.hts_code, "
        "c.status, c.cancel_reason, c.cancellation_requested_at, c.oid_failure, r.exporter_name, "
        "r.importer_name, c.replaces, c.replaced_by FROM certificates c JOIN requests r USING (request_id) "
        "WHERE c.status = $1 "
        "ORDER BY c.cancellation_requested_at NULLS FIRST, c.request_id, c.commodity_index LIMIT $2",
        status.value,
        limit,
    )
    return [CertificateRow.model_validate(dict(row)) for row in rows]


async def cancellation_tasks(pool: asyncpg.Pool) -> list[CertificateRow]:
    """The NOPICs still valid in OID that are to be cancelled there: staff's tasks in manual mode, those the
    OID gateway refused (`oid_failure`) or is still cancelling in api mode."""
    return await certificates_in(pool, CertificateStatus.CANCELLATION_PENDING)


async def replacements_to_issue(pool: asyncpg.Pool) -> list[CertificateRow]:
    """The replacements (`replace-certificate`) still without a number: staff's to make in manual mode."""
    return [row for row in await certificates_in(pool, CertificateStatus.PENDING) if row.replaces]


AttentionLists.model_rebuild()  # its `to_cancel` names the row model defined just above
