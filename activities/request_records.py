"""Closed requests kept whole (table `request_records`): a closed request's state, kept in PostgreSQL for
the retention period whatever Temporal still holds, and read back from here.

The records activity's writer (`records_pg.PgRecordsStore`) keeps a request's record with the change that
closes it; `keep_closed` keeps those of requests that closed before it did (`nopic records keep-closed`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import AwareDatetime, BaseModel

from domain.state import RequestState

# $1 request id, $2 state, $3 sequence, $4 status, $5 time of the change, $6 retention in years.
UPSERT_RECORD = """
INSERT INTO request_records AS k (request_id, state, sequence, status, closed_at, keep_until)
VALUES ($1, $2::jsonb, $3, $4, $5::timestamptz, $5::timestamptz + make_interval(years => $6))
ON CONFLICT (request_id) DO UPDATE SET state = EXCLUDED.state, sequence = EXCLUDED.sequence,
    status = EXCLUDED.status
WHERE k.sequence <= EXCLUDED.sequence
"""

_INSERT_RECORD = """
INSERT INTO request_records (request_id, state, sequence, status, closed_at, keep_until)
VALUES ($1, $2::jsonb, $3, $4, $5::timestamptz, $5::timestamptz + make_interval(years => $6))
ON CONFLICT (request_id) DO NOTHING
"""

DEFAULT_RETENTION_YEARS = 10
"""7 CFR 205.510(b): a certifier keeps the records it creates for not less than 10 years."""


async def keep_closed(
    pool: asyncpg.Pool, state: RequestState, closed_at: datetime, retention_years: int
) -> bool:
    """Keep the record of a request that closed before the records activity kept them (its final state,
    from its workflow's result); False when it has one already or this database does not know it."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT true FROM requests WHERE request_id = $1", state.request_id):
            return False
        status = await conn.execute(
            _INSERT_RECORD,
            state.request_id,
            state.model_dump(mode="json"),
            max(state.sequence, 1),
            str(state.status),
            closed_at,
            retention_years,
        )
    return bool(status == "INSERT 0 1")


class KeptRequest(BaseModel):
    """A closed request's record: its state when it closed, and how long it is kept."""

    state: RequestState
    closed_at: AwareDatetime
    keep_until: AwareDatetime


async def kept_request(pool: asyncpg.Pool, request_id: str) -> KeptRequest | None:
    """The record of a closed request; None while the request is open (or unknown)."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, closed_at, keep_until FROM request_records WHERE request_id = $1", request_id
        )
    return KeptRequest.model_validate(dict(row)) if row else None
