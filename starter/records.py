"""Keeping the records of requests that closed before the records activity kept them.

From this version on, the closing change of every request writes its record (`request_records`). A request
that closed under an earlier version has none; while Temporal still holds its workflow (the namespace's
retention), its result is its final state. `nopic records keep-closed`, run once after the upgrade, keeps
each of them, so they too outlive Temporal's retention.
"""

from __future__ import annotations

import asyncpg
from temporalio.client import Client

from activities.request_records import keep_closed, kept_request
from core.logging import get_logger
from domain.state import RequestState
from starter.client import WORKFLOW_TYPE

log = get_logger(__name__)


async def keep_closed_requests(
    client: Client, pool: asyncpg.Pool, task_queue: str, retention_years: int
) -> int:
    """Keep the record of every completed request workflow of `task_queue` that has none; how many."""
    query = (
        f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Completed' AND TaskQueue = '{task_queue}'"
    )
    kept = 0
    async for execution in client.list_workflows(query):
        request_id = execution.id.removeprefix("nopic-request-")
        if await kept_request(pool, request_id) is not None:
            continue
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id, result_type=RequestState)
        state = await handle.result()
        closed_at = execution.close_time or state.updated_at
        if state.status.is_final and await keep_closed(pool, state, closed_at, retention_years):
            log.info("records.kept_closed", request_id=request_id, status=str(state.status))
            kept += 1
    return kept
