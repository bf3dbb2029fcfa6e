"""The README's `temporal` CLI walk-through, run as written against the whole service.

The commands come from the README block marked `<!-- temporal-cli`; each runs as a subprocess of the real
`temporal` binary, against the dev server and the real worker (OID sandbox over HTTP, SMTP sink,
PostgreSQL). Only the connection (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE), the task queue and the binary's
path are this test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.binaries import find_binary
from core.settings import Settings
from domain.nopic_number import check_nopic_number
from domain.state import workflow_id
from tests.support.dirs import REPO
from tests.support.postgres import TEMPLATE_DATABASE
from tests.support.stack import ApiStack, running_stack

ROOT = REPO
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples" / "temporal"
MARKER = "<!-- temporal-cli"
TEMPORAL = ".venv/bin/temporal"
# What the README says each `query` shows, in order.
QUERY_STATUSES = ["in_review", "active"]


def readme_commands() -> list[list[str]]:
    """The commands of the indented block after the marker: comments dropped, continued lines joined."""
    after = README.read_text().split(MARKER, 1)[1].split("\n", 1)[1]
    block: list[str] = []
    for line in after.splitlines():
        if line.startswith("    "):
            block.append(line[4:])
        elif line.strip() and block:
            break
    text = "\n".join(line for line in block if not line.startswith("#")).replace("\\\n", " ")
    return [shlex.split(command) for command in text.splitlines() if command.strip()]


def for_this_stack(argv: list[str], task_queue: str) -> list[str]:
    assert argv[0] == TEMPORAL, f"README command does not run {TEMPORAL}: {shlex.join(argv)}"
    argv = [find_binary("temporal"), *argv[1:]]
    if "--task-queue" in argv:
        argv[argv.index("--task-queue") + 1] = task_queue
    return argv


async def temporal(argv: list[str], env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, f"{shlex.join(argv)} exited {process.returncode}:\n{stderr.decode()}"
    return stdout.decode()


async def query_until(argv: list[str], env: dict[str, str], status: str) -> dict[str, Any]:
    """Query again until the state shows the README's `status`, for 60 s at most (a few seconds, unless
    the machine is busy): a person reads each answer before the next command."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        state: dict[str, Any] = json.loads(await temporal(argv, env))["queryResult"][0]
        if state["status"] == status or loop.time() > deadline:
            return state
        await asyncio.sleep(0.2)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def mail_to(outbox: Path, address: str) -> list[str]:
    bodies = []
    for path in sorted(outbox.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        if address in str(message["To"]) and body is not None:
            bodies.append(body.get_content())
    return bodies


async def mailed_to(outbox: Path, address: str, within: float = 30) -> list[str]:
    """The bodies of the mail to `address`, once there is some (or after `within` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if bodies := mail_to(outbox, address):
            return bodies
        await asyncio.sleep(0.2)
    return mail_to(outbox, address)


@pytest.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, postgres_server: str, tmp_path: Path
) -> AsyncIterator[ApiStack]:
    async with running_stack(dev_server_env, postgres_server, TEMPLATE_DATABASE, tmp_path) as running:
        yield running
    # The example's request stays active until its timeframe ends, in 2030: it ends with the test.
    request = dev_server_env.client.get_workflow_handle(workflow_id(example("request.json")["request_id"]))
    with contextlib.suppress(RPCError):  # not started, if the test failed before
        await request.terminate("the test is over")


def test_the_example_is_still_ahead_of_its_dates() -> None:
    """Once its customs deadline has passed, the walk-through would end `cancelled`: move its dates."""
    shipment = example("request.json")["form"]["shipment"]
    deadline = datetime.fromisoformat(shipment["expected_clearance"])
    assert deadline > datetime.now(UTC), "examples/temporal/request.json: move its dates later"


def test_the_readme_commands_match_the_service() -> None:
    commands = readme_commands()
    assert [argv[1:3] for argv in commands] == [
        ["workflow", "start"],
        ["workflow", "query"],
        ["workflow", "update"],
        ["workflow", "signal"],
        ["workflow", "query"],
    ]
    start = commands[0]
    assert start[start.index("--task-queue") + 1] == Settings.model_fields["temporal_task_queue"].default
    request_id = example("request.json")["request_id"]
    for argv in commands:
        assert argv[argv.index("--workflow-id") + 1] == workflow_id(request_id)


async def test_the_readme_commands_drive_a_request_to_active(stack: ApiStack) -> None:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address or "",
        "TEMPORAL_NAMESPACE": stack.settings.temporal_namespace,
    }
    statuses = iter(QUERY_STATUSES)
    state: dict[str, Any] = {}
    for argv in readme_commands():
        command = for_this_stack(argv, stack.settings.temporal_task_queue)
        if argv[2] == "query":
            expected = next(statuses)
            state = await query_until(command, env, expected)
            assert state["status"] == expected, state.get("history")
        else:
            await temporal(command, env)

    form = example("request.json")["form"]
    certificates = state["certificates"]
    assert len(certificates) == len(form["commodities"])
    assert [c["product_name"] for c in certificates] == [c["product_name"] for c in form["commodities"]]
    assert all(c["status"] == "issued" for c in certificates)
    numbers = [c["number"] for c in certificates]
    assert all(check_nopic_number(number) is None for number in numbers), numbers
    assert len(set(numbers)) == len(numbers)
    assert state["transport_document"]["sha256"] == example("transport-document.json")["document"]["sha256"]
    assert [entry["action_id"] for entry in state["history"] if entry["actor"]["role"] != "system"] == [
        "system-1",  # received, entered by the reviewer of the input
        example("approve.json")["action_id"],
        example("transport-document.json")["action_id"],
    ]
    # The importer was told what to declare in ACE: every NOPIC number (mail goes out after each step).
    (importer_mail,) = await mailed_to(stack.outbox, form["importer"]["email"])
    assert all(number in importer_mail for number in numbers)
