"""Reading the PostgreSQL read model (written by the records activity): request lists and the audit trail.

Lists come from here, not from the workflows, so a dashboard of hundreds of requests is one indexed query.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
from pydantic import AwareDatetime, BaseModel, Field

from activities.records import RequestSummary
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


class AuditEntry(BaseModel):
    sequence: int
    actor_id: str
    actor_name: str
    actor_role: str
    action: str
    payload: dict[str, Any]
    occurred_at: AwareDatetime


_NAME_SEPARATOR = "\x1f"  # as `request_product_text` joins the names


def _where(filters: RequestFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

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
        # Through the trigram index of migration 0011, over the names joined by U+001F: only text holding
        # that character could match across two names, and only then is each name checked on its own.
        clauses.append(f"request_product_text(product_names) ILIKE {pattern}")
        if _NAME_SEPARATOR in filters.product:
            clauses.append(f"EXISTS (SELECT 1 FROM unnest(product_names) p WHERE p ILIKE {pattern})")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


_SUMMARY_COLUMNS = (
    "request_id, status, exporter_operation_id, exporter_name, importer_operation_id, importer_name, etd, "
    "customs_deadline, late, lead_working_days, commodity_count, product_names, received_at, updated_at"
)


async def list_requests(
    pool: asyncpg.Pool,
    filters: RequestFilters,
    *,
    sort: SortKey = SortKey.CUSTOMS_DEADLINE,
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> RequestPage:
    where, args = _where(filters)
    direction = "DESC" if descending else "ASC"
    # `sort` is an enum member, never the caller's text, so it is safe in the statement.
    order = f"{sort.value} {direction} NULLS LAST, request_id {direction}"
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM requests{where}", *args)
        rows = await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM requests{where} ORDER BY {order} "
            f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
    return RequestPage(
        items=[RequestSummary.model_validate(dict(row)) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


async def count_by_status(pool: asyncpg.Pool, filters: RequestFilters) -> dict[RequestStatus, int]:
    where, args = _where(filters)
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT status, count(*) AS n FROM requests{where} GROUP BY status", *args)
    return {RequestStatus(row["status"]): row["n"] for row in rows}


async def summary(pool: asyncpg.Pool, request_id: str) -> RequestSummary | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {_SUMMARY_COLUMNS} FROM requests WHERE request_id = $1", request_id
        )
    return RequestSummary.model_validate(dict(row)) if row else None


async def audit_trail(pool: asyncpg.Pool, request_id: str) -> list[AuditEntry]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT sequence, actor_id, actor_name, actor_role, action, payload, occurred_at "
            "FROM audit_events WHERE request_id = $1 ORDER BY sequence",
            request_id,
        )
    return [AuditEntry.model_validate(dict(row)) for row in rows]
