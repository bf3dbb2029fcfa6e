"""NOPIC numbers typed by hand, against PostgreSQL: one commodity holds each, a second claim hears who; the
read model's certificates (revisions, cancellations awaiting confirmation) as the queue lists them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from activities.nopic_numbers import NumberClaim, PgNumberRegistry
from activities.records_pg import PgRecordsStore, cancellation_tasks
from domain.state import CertificateStatus, RequestStatus
from tests.support.forms import RECEIVED_AT
from tests.support.records import change

NUMBER = "026-1234567890-000777"


def claim(request_id: str, index: int = 0, number: str = NUMBER) -> NumberClaim:
    return NumberClaim(number=number, request_id=request_id, commodity_index=index)


async def test_a_number_is_one_commodity_s_and_a_second_claim_hears_whose(db_pool: asyncpg.Pool) -> None:
    registry = PgNumberRegistry(db_pool)
    await PgRecordsStore(db_pool).record_change(change("R-A", 1, RequestStatus.ISSUING))
    assert await registry.claim(claim("R-A")) is None
    assert await registry.claim(claim("R-A")) is None, "a retried claim of the same commodity"
    held = await registry.claim(claim("R-B", 1))
    assert held is not None and (held.request_id, held.commodity_index) == ("R-A", 0)
    assert held.refusal(NUMBER) == (
        f"{NUMBER} is already recorded for request R-A (commodity 0, Organic roasted coffee beans): "
        "check the number in OID"
    )
    assert await registry.claim(claim("R-A", 1)) is not None, "not even another commodity of the same request"

    await registry.release(claim("R-B", 1))  # not its number: nothing happens
    assert await registry.claim(claim("R-B", 1)) is not None
    await registry.release(claim("R-A"))
    assert await registry.claim(claim("R-B", 1)) is None


async def test_two_claims_of_one_number_at_once_give_it_to_one(db_pool: asyncpg.Pool) -> None:
    registry = PgNumberRegistry(db_pool)
    answers = await asyncio.gather(*(registry.claim(claim(f"R-{i}")) for i in range(8)))
    assert sum(answer is None for answer in answers) == 1


async def test_a_number_issued_through_the_gateway_is_held_too(db_pool: asyncpg.Pool) -> None:
    await PgRecordsStore(db_pool).record_change(
        change("R-API", 1, RequestStatus.AWAITING_TRANSPORT_DOCUMENT, numbers=[NUMBER, None])
    )
    held = await PgNumberRegistry(db_pool).claim(claim("R-HAND"))
    assert held is not None and held.request_id == "R-API"


async def test_two_requests_recording_one_number_never_wedge_the_audit_trail(db_pool: asyncpg.Pool) -> None:
    """The read model has no unique number any more (the claims guard it): a write never fails on it."""
    store = PgRecordsStore(db_pool)
    for request_id in ("R-1", "R-2"):
        recorded = change(request_id, 1, RequestStatus.ISSUING, numbers=[NUMBER, None])
        written = await store.record_change(recorded)
        assert written.inserted
    assert await db_pool.fetchval("SELECT count(*) FROM certificates WHERE nopic_number = $1", NUMBER) == 2


async def test_superseded_certificates_keep_their_row_and_open_cancellations_are_listed(
    db_pool: asyncpg.Pool,
) -> None:
    store = PgRecordsStore(db_pool)
    base = change("R-CX", 3, RequestStatus.IN_REVIEW, numbers=[NUMBER, None])
    asked = RECEIVED_AT + timedelta(days=1)
    old, cocoa = base.certificates
    superseded = old.model_copy(
        update={
            "status": CertificateStatus.CANCELLATION_PENDING,
            "cancel_reason": "the request data was corrected",
            "cancellation_requested_at": asked,
            "oid_failure": "OID refused: under investigation",
        }
    )
    replacement = old.model_copy(update={"number": None, "status": CertificateStatus.PENDING, "revision": 1})
    await store.record_change(base.model_copy(update={"certificates": [replacement, cocoa, superseded]}))
    rows = await db_pool.fetch(
        "SELECT commodity_index, revision, status FROM certificates WHERE request_id = 'R-CX' ORDER BY 1, 2"
    )
    assert [tuple(r) for r in rows] == [(0, 0, "cancellation_pending"), (0, 1, "pending"), (1, 0, "pending")]
    [task] = await cancellation_tasks(db_pool)
    assert (task.request_id, task.commodity_index, task.revision, task.nopic_number) == ("R-CX", 0, 0, NUMBER)
    assert task.cancel_reason == "the request data was corrected" and task.cancellation_requested_at == asked
    assert task.oid_failure == "OID refused: under investigation"
    assert task.exporter_name == base.summary.exporter_name
