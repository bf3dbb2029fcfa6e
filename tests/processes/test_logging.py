"""Log lines from workflow and activity code carry their Temporal context, and replay adds none."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from core.logging import configure_logging, get_logger
from tests.support.workflows import StampInput, WaitThenStamp, stamp_checklist


class JsonLog:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["event"] == event]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The service's logging in json mode (NOPIC_LOG_FORMAT=json), into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield JsonLog(stream)
    root.handlers[:], level = saved
    root.setLevel(level)


def test_plain_code_logs_json_lines(json_log: JsonLog) -> None:
    get_logger("nopic.test").info("request received", request_id="R-7")

    [line] = json_log.events("request received")
    assert line["request_id"] == "R-7"
    assert line["level"] == "info"
    assert line["logger"] == "nopic.test"
    assert "timestamp" in line


async def test_workflow_and_activity_lines_carry_their_context_and_replay_is_silent(
    json_log: JsonLog, time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    workflow_id = f"wf-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[WaitThenStamp], activities=[stamp_checklist]):
        handle = await client.start_workflow(
            WaitThenStamp.run, StampInput(request_id="R-1"), id=workflow_id, task_queue=task_queue
        )
        await handle.result()
    run_id = handle.result_run_id

    workflow_lines = json_log.events("waiting a day") + json_log.events("day over, checklist stamped")
    assert len(workflow_lines) == 2, "each workflow line exactly once, though the workflow woke up twice"
    for line in workflow_lines:
        assert (line["workflow_id"], line["run_id"]) == (workflow_id, run_id)
        assert line["workflow_type"] == "WaitThenStamp"
        assert "temporal_workflow" not in line

    [activity_line] = json_log.events("checklist stamped")
    assert (activity_line["workflow_id"], activity_line["run_id"]) == (workflow_id, run_id)
    assert activity_line["activity_type"] == "stamp_checklist"
    assert activity_line["attempt"] == 1

    before_replay = json_log.lines()
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[WaitThenStamp], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
    assert json_log.lines() == before_replay
