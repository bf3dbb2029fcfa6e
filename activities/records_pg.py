"""The records in PostgreSQL (asyncpg): the audit trail and the `requests` read model, in one place.

This module owns the tables `requests`, `certificates`, `audit_events` and `document_references` (which
stored files each request refers to, from its changes): their columns, their writer (`PgRecordsStore`, the
records activity's store) and the queries that read them (the audit trail, the daily digest's lists; the
request list, its filters and pages, are `request_list.py`). The writer also keeps a closed request whole
(`request_records.py`). Lists come from PostgreSQL, not from the workflows, so a dashboard of hundreds of
requests is one indexed query.

One transaction per state change: the audit event first (its deterministic id makes a retry a no-op),
then the request's read-model row and its certificates, and once it has closed its whole state (table
`request_records`, kept for the retention period). A retry whose event is already there, the same,
changes nothing. The same event with other content replaces it: the records are written by a local
activity, inside the workflow task that made the change, so a worker that dies before that task completes
leaves a change the workflow's history never kept; the task runs again and records its own (the time, at
least, differs). A row is only overwritten by a change of its sequence or a higher one, so nothing older
wins.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import asyncpg
from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
)
from pydantic_core import to_jsonable_python

from activities.records import RecordChangeInput, RecordedChange, RequestSummary
from activities.request_records import DEFAULT_RETENTION_YEARS, UPSERT_RECORD
from core.logging import get_logger
from domain.state import CertificateStatus, RequestStatus

log = get_logger(__name__)

# The read model's row, column for column: what `RequestSummary` holds.
SUMMARY_COLUMNS = tuple(RequestSummary.model_fields)
SELECT_SUMMARY = ", ".join(SUMMARY_COLUMNS)

_INSERT_EVENT = """
INSERT INTO audit_events
    (event_id, request_id, sequence, actor_id, actor_name, actor_role, action, payload, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
ON CONFLICT (event_id) DO UPDATE SET
    actor_id = EXCLUDED.actor_id,
    actor_name = EXCLUDED.actor_name,
    actor_role = EXCLUDED.actor_role,
    action = EXCLUDED.action,
    payload = EXCLUDED.payload,
    occurred_at = EXCLUDED.occurred_at
WHERE (audit_events.actor_id, audit_events.actor_name, audit_events.actor_role, audit_events.action,
       audit_events.payload, audit_events.occurred_at)
    IS DISTINCT FROM (EXCLUDED.actor_id, EXCLUDED.actor_name, EXCLUDED.actor_role, EXCLUDED.action,
                      EXCLUDED.payload, EXCLUDED.occurred_at)
RETURNING xmax = 0
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
        # A change recorded again at its sequence replaces the row (a task run again after its worker died
        # may have made another). The workflow's first record, `received`, leaves the submission's row
        # (sequence 0) as it is: that row has the status the submission was answered with, the check-in's.
        "WHERE r.last_sequence <= EXCLUDED.last_sequence\n"
        "  AND NOT (r.last_sequence = 0 AND EXCLUDED.last_sequence = 1)"
    )


_UPSERT_REQUEST = _upsert_request()


def _request_row(summary: RequestSummary) -> list[Any]:
    row = summary.model_dump()
    return [str(row[c]) if c == "status" else row[c] for c in SUMMARY_COLUMNS]


async def record_submission(pool: asyncpg.Pool, summary: RequestSummary) -> None:
    """The read-model row of a request whose workflow has just started: lists show the request as soon as
    its submission is answered, with the status it was answered with. The workflow's first record
    (`received`, a moment before the check-in that gives that status) does not take the list back to
    `received`; the check-in's replaces it, and never the other way round."""
    await pool.execute(_UPSERT_REQUEST, *_request_row(summary), 0)


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
WHERE c.last_sequence <= EXCLUDED.last_sequence
"""


class PgRecordsStore:
    """The records port (`activities.records.RecordsStore`) on PostgreSQL: this module's one writer.

    A closed request's record is kept `retention_years` after it closed (its first closing change).
    """

    def __init__(self, pool: asyncpg.Pool, retention_years: int = DEFAULT_RETENTION_YEARS) -> None:
        self._pool = pool
        self._retention_years = retention_years

    async def record_change(self, change: RecordChangeInput) -> RecordedChange:
        try:
            return await self._record(change)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "audit_events_request_id_sequence_key":
                raise
            # Another attempt of this very change inserted it at the same moment, and has committed:
            # PostgreSQL settles ON CONFLICT by the event id alone, not the (request, sequence) key.
            return await self._record(change)

    async def _record(self, change: RecordChangeInput) -> RecordedChange:
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
            if inserted is None:
                # An earlier attempt committed this very change: nothing more to write.
                log.info("records.already_recorded", event_id=event.event_id)
                return RecordedChange(event_id=event.event_id, inserted=False)
            if not inserted:
                # Written by an attempt whose workflow task never completed (its worker died): the task
                # ran again, and what it recorded now is the change the workflow's history keeps.
                log.warning("records.rewritten", event_id=event.event_id)
            payload = to_jsonable_python(event.payload)
            # What the change refers to in the document store: kept as long as the request's record.
            await conn.executemany(
                "INSERT INTO document_references (sha256, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(sha256, event.request_id) for sha256 in sorted(referenced_documents(payload))],
            )
            await conn.execute(_UPSERT_REQUEST, *_request_row(summary), event.sequence)
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
        return RecordedChange(event_id=event.event_id, inserted=inserted)


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
SELECT {SELECT_SUMMARY} FROM requests
WHERE (status = ANY($1::text[]) AND etd BETWEEN $2 AND $3)
   OR (status = 'awaiting_transport_document' AND customs_deadline >= $4 AND customs_deadline < $5)
ORDER BY CASE WHEN status = 'awaiting_transport_document' THEN customs_deadline ELSE etd::timestamptz END,
         request_id
"""
# $1 statuses before issue, $2 today, $3 now.
_OVERDUE = f"""
SELECT {SELECT_SUMMARY} FROM requests
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

    select = f"SELECT {SELECT_SUMMARY} FROM requests"
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
