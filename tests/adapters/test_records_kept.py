"""A closed request's whole state kept in PostgreSQL by the records activity, for the retention period."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from activities.records_pg import PgRecordsStore
from activities.request_records import kept_request
from domain.certificates import one_nopic_per_commodity
from domain.checklist import checklist
from domain.policy import Policy
from domain.state import CertificateStatus, ReconciliationLine, RequestState, RequestStatus
from tests.support.forms import RECEIVED_AT, form
from tests.support.records import change


def closed_state(request_id: str, status: RequestStatus, sequence: int) -> RequestState:
    request = form()
    certificates = [
        c.model_copy(update={"number": f"026-1234567890-00000{c.commodity_index + 1}", "status": "expired"})
        for c in one_nopic_per_commodity(request)
    ]
    return RequestState(
        request_id=request_id,
        form=request,
        policy=Policy(),
        status=status,
        received_day=RECEIVED_AT.date(),
        lead_working_days=5,
        late=False,
        checklist=checklist(request),
        certificates=certificates,
        customs_deadline=request.shipment.customs_deadline,
        reconciliation=[
            ReconciliationLine(
                commodity_index=0,
                product_name="Organic roasted coffee beans",
                nopic_number=certificates[0].number,
                certified_kg=Decimal(12000),
                shipped_kg=Decimal("6500.25"),
            )
        ],
        outcome="the timeframe ended",
        sequence=sequence,
        updated_at=RECEIVED_AT + timedelta(hours=sequence),
    )


async def test_an_open_request_has_no_record_and_a_closed_one_is_kept_ten_years(
    db_pool: asyncpg.Pool,
) -> None:
    store = PgRecordsStore(db_pool)
    await store.record_change(change("kept-1", 1, RequestStatus.ACTIVE))
    assert await kept_request(db_pool, "kept-1") is None

    final = closed_state("kept-1", RequestStatus.EXPIRED, 2)
    closing = change("kept-1", 2, RequestStatus.EXPIRED).model_copy(update={"closed_state": final})
    await store.record_change(closing)

    kept = await kept_request(db_pool, "kept-1")
    assert kept is not None
    assert kept.state == final
    assert kept.state.certificates[0].status is CertificateStatus.EXPIRED
    assert kept.closed_at == closing.event.at
    assert kept.keep_until == closing.event.at.replace(year=closing.event.at.year + 10)


async def test_a_later_change_of_a_closed_request_updates_its_record_an_older_retry_never_does(
    db_pool: asyncpg.Pool,
) -> None:
    store = PgRecordsStore(db_pool, retention_years=12)
    first = change("kept-2", 1, RequestStatus.CANCELLED).model_copy(
        update={"closed_state": closed_state("kept-2", RequestStatus.CANCELLED, 1)}
    )
    later_state = closed_state("kept-2", RequestStatus.CANCELLED, 2).model_copy(update={"outcome": "later"})
    later = change("kept-2", 2, RequestStatus.CANCELLED).model_copy(update={"closed_state": later_state})
    await store.record_change(first)
    await store.record_change(later)
    await db_pool.execute("DELETE FROM audit_events WHERE event_id = 'kept-2:1'")  # so the retry writes again
    await store.record_change(first)

    kept = await kept_request(db_pool, "kept-2")
    assert kept is not None
    assert kept.state.outcome == "later"
    assert kept.closed_at == first.event.at, "closed when it first closed"
    assert kept.keep_until == first.event.at.replace(year=first.event.at.year + 12)
