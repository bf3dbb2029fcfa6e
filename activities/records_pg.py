"""`PgRecordsStore`: the records port on PostgreSQL (asyncpg).

One transaction per state change: the audit event first (its deterministic id makes a retry a no-op),
then the request's read-model row and its certificates. A retry whose event is already there changes
nothing; a row is only overwritten by a change with a higher sequence, so nothing older wins.
"""

from __future__ import annotations

import asyncpg
from pydantic_core import to_jsonable_python

from activities.records import RecordChangeInput, RecordedChange
from core.logging import get_logger

log = get_logger(__name__)

_INSERT_EVENT = """
INSERT INTO audit_events
    (event_id, request_id, sequence, actor_id, actor_name, actor_role, action, payload, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
ON CONFLICT DO NOTHING
RETURNING true
"""

_UPSERT_REQUEST = """
INSERT INTO requests AS r
    (request_id, status, exporter_name, exporter_operation_id, importer_name, importer_operation_id, etd,
     customs_deadline, late, lead_working_days, commodity_count, product_names, product_search,
     received_at, updated_at, last_sequence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text[],
        to_tsvector('simple', array_to_string($12::text[], ' ')), $13, $14, $15)
ON CONFLICT (request_id) DO UPDATE SET
    status = EXCLUDED.status,
    exporter_name = EXCLUDED.exporter_name,
    exporter_operation_id = EXCLUDED.exporter_operation_id,
    importer_name = EXCLUDED.importer_name,
    importer_operation_id = EXCLUDED.importer_operation_id,
    etd = EXCLUDED.etd,
    customs_deadline = EXCLUDED.customs_deadline,
    late = EXCLUDED.late,
    lead_working_days = EXCLUDED.lead_working_days,
    commodity_count = EXCLUDED.commodity_count,
    product_names = EXCLUDED.product_names,
    product_search = EXCLUDED.product_search,
    received_at = EXCLUDED.received_at,
    updated_at = EXCLUDED.updated_at,
    last_sequence = EXCLUDED.last_sequence
WHERE r.last_sequence < EXCLUDED.last_sequence
"""

_UPSERT_CERTIFICATE = """
INSERT INTO certificates AS c
    (request_id, commodity_index, nopic_number, product_name, hts_code, organic_standard, net_kg,
     lot_numbers, status, issued_at, cancelled_at, cancel_reason, updated_at, last_sequence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10, $11, $12, $13, $14)
ON CONFLICT (request_id, commodity_index) DO UPDATE SET
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
    last_sequence = EXCLUDED.last_sequence
WHERE c.last_sequence < EXCLUDED.last_sequence
"""


class PgRecordsStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
            await conn.execute(
                _UPSERT_REQUEST,
                summary.request_id,
                str(summary.status),
                summary.exporter_name,
                summary.exporter_operation_id,
                summary.importer_name,
                summary.importer_operation_id,
                summary.etd,
                summary.customs_deadline,
                summary.late,
                summary.lead_working_days,
                summary.commodity_count,
                summary.product_names,
                summary.received_at,
                summary.updated_at,
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
                    )
                    for c in change.certificates
                ],
            )
        return RecordedChange(event_id=event.event_id, inserted=True)
