"""The audit trail and read model on embedded PostgreSQL: every change recorded exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.records import RecordsActivities
from activities.records_pg import PgRecordsStore, record_submission
from domain.state import RequestStatus
from tests.support.records import change


async def test_a_change_is_recorded_with_its_read_model_row_and_certificates(db_pool: asyncpg.Pool) -> None:
    store = PgRecordsStore(db_pool)
    recorded = await ActivityEnvironment().run(
        RecordsActivities(store).record_change, change("rec-1", 1, RequestStatus.IN_REVIEW)
    )
    assert recorded.inserted
    event = await db_pool.fetchrow("SELECT * FROM audit_events WHERE event_id = 'rec-1:1'")
    assert (event["actor_id"], event["actor_role"], event["action"]) == ("rev-1", "reviewer", "in_review")
    assert event["payload"] == {"status": "in_review", "kg": "1.5", "at": "2026-03-02T10:00:00Z"}
    row = await db_pool.fetchrow("SELECT * FROM requests WHERE request_id = 'rec-1'")
    assert row["status"] == "in_review"
    assert row["product_names"] == ["Organic roasted coffee beans", "Organic cocoa nibs"]
    assert row["commodity_count"] == 2
    certificates = await db_pool.fetch("SELECT * FROM certificates WHERE request_id = 'rec-1' ORDER BY 2")
    assert [(c["status"], c["net_kg"]) for c in certificates] == [
        ("pending", Decimal("12000")),
        ("pending", Decimal("800.5")),
    ]


async def test_a_retried_change_is_written_once(db_pool: asyncpg.Pool) -> None:
    store = PgRecordsStore(db_pool)
    same = change("rec-2", 1, RequestStatus.IN_REVIEW)
    results = await asyncio.gather(*(store.record_change(same) for _ in range(5)))
    assert sorted(r.inserted for r in results) == [False, False, False, False, True]
    again = await store.record_change(same)
    assert not again.inserted
    assert await db_pool.fetchval("SELECT count(*) FROM audit_events WHERE request_id = 'rec-2'") == 1


async def test_a_change_recorded_again_with_other_content_replaces_the_first(db_pool: asyncpg.Pool) -> None:
    """A worker that died before its workflow task completed left a change the history never kept; the
    task ran again (later, so at another time, here also to another status): what it records is kept."""
    store = PgRecordsStore(db_pool)
    first = change("rec-5", 1, RequestStatus.ISSUING)
    await store.record_change(first)
    later = first.event.at + timedelta(seconds=7)
    again = change("rec-5", 1, RequestStatus.IN_REVIEW)
    again = again.model_copy(
        update={
            "event": again.event.model_copy(update={"at": later}),
            "summary": again.summary.model_copy(update={"updated_at": later}),
        }
    )
    rewritten = await store.record_change(again)
    assert not rewritten.inserted
    event = await db_pool.fetchrow("SELECT action, occurred_at FROM audit_events WHERE event_id = 'rec-5:1'")
    assert (event["action"], event["occurred_at"]) == ("in_review", later)
    row = await db_pool.fetchrow("SELECT status, updated_at FROM requests WHERE request_id = 'rec-5'")
    assert (row["status"], row["updated_at"]) == ("in_review", later)
    assert await db_pool.fetchval("SELECT count(*) FROM audit_events WHERE request_id = 'rec-5'") == 1


async def test_a_submissions_row_keeps_its_answered_status_until_the_check_in_is_recorded(
    db_pool: asyncpg.Pool,
) -> None:
    """Listed as answered (`in_review`): the workflow's first record, `received`, a moment before its
    check-in, does not take the list back; the check-in's does replace the row."""
    store = PgRecordsStore(db_pool)
    checked_in = change("rec-6", 2, RequestStatus.IN_REVIEW)
    await record_submission(db_pool, checked_in.summary)
    await store.record_change(change("rec-6", 1, RequestStatus.RECEIVED))
    row = await db_pool.fetchrow("SELECT status, last_sequence FROM requests WHERE request_id = 'rec-6'")
    assert (row["status"], row["last_sequence"]) == ("in_review", 0)
    await store.record_change(checked_in)
    row = await db_pool.fetchrow("SELECT status, last_sequence FROM requests WHERE request_id = 'rec-6'")
    assert (row["status"], row["last_sequence"]) == ("in_review", 2)
    assert await db_pool.fetchval("SELECT count(*) FROM audit_events WHERE request_id = 'rec-6'") == 2


async def test_a_late_retry_of_an_older_change_never_overwrites_a_newer_state(db_pool: asyncpg.Pool) -> None:
    store = PgRecordsStore(db_pool)
    numbers: list[str | None] = ["026-1234567890-000001", "026-1234567890-000002"]
    await store.record_change(change("rec-3", 2, RequestStatus.AWAITING_TRANSPORT_DOCUMENT, numbers=numbers))
    await store.record_change(change("rec-3", 1, RequestStatus.ISSUING))
    row = await db_pool.fetchrow("SELECT status, last_sequence FROM requests WHERE request_id = 'rec-3'")
    assert (row["status"], row["last_sequence"]) == ("awaiting_transport_document", 2)
    stored = await db_pool.fetch(
        "SELECT nopic_number FROM certificates WHERE request_id = 'rec-3' ORDER BY 1"
    )
    assert [r["nopic_number"] for r in stored] == numbers
    assert await db_pool.fetchval("SELECT count(*) FROM audit_events WHERE request_id = 'rec-3'") == 2


async def test_dashboard_lists_can_search_product_names(db_pool: asyncpg.Pool) -> None:
    await PgRecordsStore(db_pool).record_change(change("rec-4", 1, RequestStatus.RECEIVED))
    found = await db_pool.fetch(
        "SELECT request_id FROM requests WHERE product_search @@ plainto_tsquery('simple', $1)", "cocoa"
    )
    assert "rec-4" in [r["request_id"] for r in found]
