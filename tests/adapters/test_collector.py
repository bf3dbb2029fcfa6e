"""Stored files no request refers to are collected after the grace period, by a Temporal Schedule; files a
request refers to, a closed request's sealed PDFs and fresh uploads are kept."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.collector import CollectInput, DocumentCollector
from activities.documents import DocumentStore
from activities.records_pg import PgRecordsStore
from core.settings import Settings
from domain.state import RequestStatus
from starter.schedules import ensure_collection_schedule
from tests.support.records import change
from worker import workflow_runner
from workflows.collect_documents import CollectUnreferencedDocuments

PDF = b"%PDF-1.4\n"
GRACE = timedelta(days=7)


async def aged(pool: asyncpg.Pool, sha256: str, days: int) -> None:
    """As if stored (and last uploaded) `days` ago."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE documents SET stored_at = now() - make_interval(days => $2) WHERE sha256 = $1",
            sha256,
            days,
        )
        await conn.execute(
            "UPDATE document_uploads SET uploaded_at = now() - make_interval(days => $2) WHERE sha256 = $1",
            sha256,
            days,
        )


async def test_only_old_files_no_request_refers_to_are_collected(
    db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    store = DocumentStore(db_pool, tmp_path / "documents", 1024)
    referenced = await store.store(PDF + b"referenced", "invoice.pdf", "eddy")
    refused_form = await store.store(PDF + b"refused", "left-behind.pdf", "eddy")
    fresh = await store.store(PDF + b"fresh", "today.pdf", "eddy")
    again = await store.store(PDF + b"again", "again.pdf", "eddy")
    for document in (referenced, refused_form, again):
        await aged(db_pool, document.sha256, 10)
    await store.store(PDF + b"again", "again.pdf", "olga")  # the same content uploaded again today
    recorded = change("ref-1", 1, RequestStatus.IN_REVIEW)
    recorded.event.payload["documents"] = [{"kind": "commercial_invoice", "sha256": referenced.sha256}]
    await PgRecordsStore(db_pool).record_change(recorded)
    interrupted = store.incoming / "upload-interrupted"
    interrupted.write_bytes(b"half a file")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(interrupted, (eight_days_ago, eight_days_ago))

    collector = DocumentCollector(db_pool, store)
    collected = await ActivityEnvironment().run(
        collector.collect_unreferenced_documents, CollectInput(older_than=datetime.now(UTC) - GRACE)
    )

    assert collected.removed == [refused_form.sha256]
    assert collected.interrupted_uploads == 1 and not interrupted.exists()
    assert await store.get(refused_form.sha256) is None
    assert not store.path_of(refused_form.sha256).exists()
    for kept in (referenced, fresh, again):
        assert await store.read(kept.sha256), kept.original_name
    uploads = await db_pool.fetch("SELECT uploaded_by FROM document_uploads WHERE sha256 = $1", again.sha256)
    assert sorted(r["uploaded_by"] for r in uploads) == ["eddy", "olga"], "who uploaded what is kept"


async def test_the_schedule_collects_every_day_on_the_worker(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, tmp_path: Path
) -> None:
    client = dev_server_env.client
    store = DocumentStore(db_pool, tmp_path / "documents", 1024)
    orphan = await store.store(PDF + b"orphan", "orphan.pdf", "eddy")
    await aged(db_pool, orphan.sha256, 30)
    schedule_id = f"collect-{task_queue}"
    settings = Settings(unreferenced_document_days=7)
    await ensure_collection_schedule(client, settings, schedule_id=schedule_id, task_queue=task_queue)
    handle = client.get_schedule_handle(schedule_id)
    described = await handle.describe()
    assert described.schedule.spec.time_zone_name == "Europe/Brussels"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CollectUnreferencedDocuments],
        activities=[DocumentCollector(db_pool, store).collect_unreferenced_documents],
        workflow_runner=workflow_runner(),
    ):
        await handle.trigger()
        for _ in range(200):
            runs = (await handle.describe()).info.recent_actions
            if runs:
                run = client.get_workflow_handle(runs[0].action.workflow_id)
                if (await run.describe()).status is WorkflowExecutionStatus.COMPLETED:
                    break
            await asyncio.sleep(0.1)
        result = await run.result()
    await handle.delete()
    assert result["removed"] == [orphan.sha256]
    assert await store.get(orphan.sha256) is None
