"""The worker runs whatever `worker.py` registers, on the configured task queue."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

import worker
from activities import build_activities
from activities.oid_http import HttpOidGateway
from activities.oid_public import PublicDataOperations
from core.settings import Settings
from tests.support.workflows import StampInput, WaitThenStamp, stamp_checklist
from workflows.collect_documents import CollectUnreferencedDocuments
from workflows.digest import DailyDigest
from workflows.nopic_request import NopicRequest


async def test_the_service_registers_its_workflows_and_every_activity_on_real_adapters(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert worker.workflows() == [NopicRequest, DailyDigest, CollectUnreferencedDocuments]
    registered = build_activities(worker.adapters(Settings(home=tmp_path), db_pool))
    assert sorted(activity.__name__ for activity in registered) == [
        "cancel_nopic",
        "claim_nopic_number",
        "collect_digest",
        "collect_unreferenced_documents",
        "issue_nopic",
        "lookup_certified_items",
        "lookup_operation",
        "notify",
        "queue_notification",
        "record_change",
        "release_nopic_number",
        "send_digest",
        "send_queued",
    ]


async def test_the_operations_check_asks_oid_s_public_data_once_it_has_a_key_else_the_gateway(
    db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keyed = worker.adapters(Settings(home=tmp_path, oid_data_key="k", oid_data_url=USDA_DATA), db_pool)
    assert isinstance(keyed.operations, PublicDataOperations)
    plain = worker.adapters(Settings(home=tmp_path), db_pool)
    assert plain.operations is plain.oid and isinstance(plain.oid, HttpOidGateway)


USDA_DATA = "https://organicapi.ams.usda.gov/IntegrityPubDataServices/OidPublicDataService.svc"


async def test_registered_workflows_and_activities_run_on_the_task_queue(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "workflows", lambda: [WaitThenStamp])
    monkeypatch.setattr(worker, "build_activities", lambda adapters: [stamp_checklist])
    settings = Settings(home=tmp_path, temporal_task_queue=task_queue)
    built = worker.build_worker(time_skipping_env.client, settings, db_pool)

    async with built:
        result = await time_skipping_env.client.execute_workflow(
            WaitThenStamp.run, StampInput(request_id="R-2"), id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result.stamp == "checked R-2"
