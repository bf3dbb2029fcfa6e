"""The worker runs whatever `worker.py` registers, on the configured task queue."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError
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


async def test_the_worker_s_cache_and_workflow_task_slots_are_the_settings_own(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path,
        temporal_task_queue=task_queue,
        worker_max_cached_workflows=250,
        worker_max_concurrent_workflow_tasks=20,
    )
    config = worker.build_worker(time_skipping_env.client, settings, db_pool).config()
    assert (config["max_cached_workflows"], config["max_concurrent_workflow_tasks"]) == (250, 20)
    # Unset: the measured defaults: the SDK's cache of 1,000, but 20 slots, not its 100.
    # One worker per task queue on a client: each build its own.
    unset = Settings(home=tmp_path, temporal_task_queue=f"{task_queue}-defaults")
    default = worker.build_worker(time_skipping_env.client, unset, db_pool).config()
    assert default["max_cached_workflows"] == Settings.model_fields["worker_max_cached_workflows"].default
    assert default["max_concurrent_workflow_tasks"] == 20
    # A cache smaller than that gets as many slots as it has places, so the setting alone is valid.
    small = worker.build_worker(
        time_skipping_env.client,
        Settings(home=tmp_path, temporal_task_queue=f"{task_queue}-small", worker_max_cached_workflows=8),
        db_pool,
    ).config()
    assert (small["max_cached_workflows"], small["max_concurrent_workflow_tasks"]) == (8, 8)


@pytest.mark.parametrize(
    ("cache", "tasks", "named", "rule"),
    [
        ("-1", "100", "worker_max_cached_workflows", "greater than or equal to 0"),
        ("250", "0", "worker_max_concurrent_workflow_tasks", "greater than or equal to 1"),
        ("250", "1", "worker_max_concurrent_workflow_tasks", "at least 2 while worker_max_cached_workflows"),
        ("50", "100", "worker_max_concurrent_workflow_tasks (100)", "must not exceed"),
        ("0", "-2", "worker_max_concurrent_workflow_tasks", "greater than or equal to 1"),
        ("many", "100", "worker_max_cached_workflows", "valid integer"),
    ],
)
def test_a_cache_or_task_slots_the_sdk_would_refuse_is_refused_naming_the_variable_and_the_rule(
    monkeypatch: pytest.MonkeyPatch, cache: str, tasks: str, named: str, rule: str
) -> None:
    monkeypatch.setenv("NOPIC_WORKER_MAX_CACHED_WORKFLOWS", cache)
    monkeypatch.setenv("NOPIC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", tasks)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert named in str(caught.value) and rule in str(caught.value)


def test_no_cache_takes_any_number_of_workflow_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without a cache every task replays its history; no sticky queue, so one task at a time is allowed.
    monkeypatch.setenv("NOPIC_WORKER_MAX_CACHED_WORKFLOWS", "0")
    monkeypatch.setenv("NOPIC_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.worker_max_cached_workflows, settings.worker_max_concurrent_workflow_tasks) == (0, 1)
