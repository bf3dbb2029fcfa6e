"""The worker runs whatever `worker.py` registers, on the configured task queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from support_workflows import StampInput, WaitThenStamp, stamp_checklist
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import worker
from core.settings import Settings


async def test_with_nothing_registered_there_is_no_worker_to_run(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    assert worker.build_worker(time_skipping_env.client, Settings(home=tmp_path), db_pool) is None


async def test_registered_workflows_and_activities_run_on_the_task_queue(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def activities(settings: Settings, db: asyncpg.Pool, client: Client) -> Sequence[Callable[..., Any]]:
        return [stamp_checklist]

    monkeypatch.setattr(worker, "workflows", lambda: [WaitThenStamp])
    monkeypatch.setattr(worker, "activities", activities)
    settings = Settings(home=tmp_path, temporal_task_queue=task_queue)
    built = worker.build_worker(time_skipping_env.client, settings, db_pool)
    assert built is not None

    async with built:
        result = await time_skipping_env.client.execute_workflow(
            WaitThenStamp.run, StampInput(request_id="R-2"), id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result.stamp == "checked R-2"
