"""`nopic up` starts the OID sandbox and the SMTP sink unless settings point at real ones, the dependencies
before the service's own processes; one that cannot start stops the start, saying which."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from devstack import supervisor
from devstack.supervisor import Child, children


def test_the_local_stand_ins_start_before_the_worker() -> None:
    entries = children(Settings(oid_sandbox_port=18100, smtp_port=18025))
    assert [(child.name, child.dependency) for child in entries] == [
        ("temporal", True),
        ("oid_sandbox", True),
        ("smtp_sink", True),
        ("worker", False),
        ("api", False),
    ]
    sandbox, sink = children(Settings(oid_sandbox_port=18100, smtp_port=18025))[1:3]
    assert sandbox.argv[-2:] == ["-m", "devstack.oid_sandbox"]
    assert [port.number for port in sandbox.ports] == [18100]
    assert sink.argv[-2:] == ["-m", "devstack.smtp_sink"]
    assert [(port.number, port.variable) for port in sink.ports] == [(18025, "NOPIC_SMTP_PORT")]


def test_real_smtp_and_oid_need_no_stand_ins() -> None:
    settings = Settings(oid_sandbox=False, smtp_sink=False, temporal_address="temporal.example:7233")
    assert [child.name for child in children(settings)] == ["worker", "api"]


async def test_a_dependency_that_cannot_start_stops_the_others_and_says_which(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = [sys.executable, "-c"]

    async def never() -> bool:
        return False

    broken = Child("broken", [*python, "import sys; sys.exit(3)"], ready=never, dependency=True)
    slow = Child("slow", [*python, "import time; time.sleep(60)"], ready=never, dependency=True)
    own = Child("worker", [*python, "import time; time.sleep(60)"])
    monkeypatch.setattr(supervisor, "children", lambda settings: [broken, slow, own])
    stack = supervisor.Stack(Settings(home=tmp_path / "home", database_url=database_url))

    with pytest.raises(supervisor.StackError, match="broken exited with code 3 while starting"):
        await stack.start()
    # The other start was cancelled, not left polling behind the error; the service's own processes never
    # started; what did start is stopped.
    starting = [task for task in asyncio.all_tasks() if "start_child" in repr(task.get_coro())]
    assert starting == []
    assert [running.child.name for running in stack.running] == ["broken", "slow"]
    slow_process = stack.child("slow").process
    assert slow_process.returncode is None
    await stack.stop()
    assert slow_process.returncode is not None
    assert stack.running == []
