"""`nopic up` as an operator runs it: everything written survives Ctrl-C and the next start."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.support.dirs import data_dir_outside_pytest_tmp
from tests.support.servers import free_port

pytestmark = pytest.mark.stack

START_TIMEOUT = 60


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Stack:
    def __init__(self, home: Path) -> None:
        # Taken again by the second start: ports no outgoing connection can take in between.
        temporal, ui, http, oid, smtp = (free_port() for _ in range(5))
        self.home = home
        self.temporal_target = f"127.0.0.1:{temporal}"
        self.http = f"http://127.0.0.1:{http}"
        self.ports = [temporal, ui, http, oid, smtp]
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("NOPIC_")} | {
            "NOPIC_HOME": str(home),
            "NOPIC_TEMPORAL_PORT": str(temporal),
            "NOPIC_TEMPORAL_UI_PORT": str(ui),
            "NOPIC_HTTP_PORT": str(http),
            "NOPIC_OID_SANDBOX_PORT": str(oid),
            "NOPIC_SMTP_PORT": str(smtp),
            "NOPIC_LOG_FORMAT": "json",
        }

    @asynccontextmanager
    async def up(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Run `nopic up` until it serves /health with both dependencies up; Ctrl-C it on the way out."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "starter.cli",
            "up",
            env=self.env,
            cwd=self.home.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        lines: list[dict[str, Any]] = []
        reader = asyncio.create_task(_collect(process.stdout, lines))
        try:
            await self._wait_healthy(process, lines)
            yield lines
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            finally:
                if process.returncode is None:
                    process.kill()
                await reader
        assert process.returncode == 0, _tail(lines)

    async def _wait_healthy(self, process: asyncio.subprocess.Process, lines: list[dict[str, Any]]) -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            deadline = asyncio.get_running_loop().time() + START_TIMEOUT
            while asyncio.get_running_loop().time() < deadline:
                assert process.returncode is None, f"nopic up exited early:\n{_tail(lines)}"
                try:
                    response = await http.get(f"{self.http}/health")
                    if response.status_code == 200:
                        assert response.json() == {"temporal": "up", "postgres": "up"}
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        pytest.fail(f"nopic up did not become healthy in {START_TIMEOUT} s:\n{_tail(lines)}")


async def _collect(stream: asyncio.StreamReader, lines: list[dict[str, Any]]) -> None:
    async for raw in stream:
        text = raw.decode(errors="replace").strip()
        try:
            lines.append(json.loads(text))
        except ValueError:
            lines.append({"event": text})


def _tail(lines: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(line) for line in lines[-30:])


def database_url(lines: list[dict[str, Any]]) -> str:
    [line] = [line for line in lines if line.get("event") == "postgres answering"]
    url: str = line["database"]
    return url


@pytest.fixture
def home() -> Iterator[Path]:
    """NOPIC_HOME for one test: outside pytest's tmp_path, for embedded PostgreSQL's sake (see conftest)."""
    directory = data_dir_outside_pytest_tmp("stack")
    yield directory / "home"
    shutil.rmtree(directory, ignore_errors=True)


async def test_data_written_before_ctrl_c_is_there_after_the_next_start(home: Path) -> None:
    stack = Stack(home)

    async with stack.up() as lines:
        client = await Client.connect(stack.temporal_target)
        # No worker polls this queue: the workflow stays open, as a request waiting for documents would.
        await client.start_workflow("RestartProbe", id="restart-probe", task_queue="restart-probe")
        # The dev server's file keeps a write-ahead log, every commit synced (`SQLITE_PRAGMAS`).
        with closing(sqlite3.connect(f"file:{stack.home / 'temporal.sqlite'}?mode=ro", uri=True)) as sqlite:
            assert sqlite.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db = await asyncpg.connect(database_url(lines))
        try:
            await db.execute("CREATE TABLE restart_probe (note text)")
            await db.execute("INSERT INTO restart_probe VALUES ('written before Ctrl-C')")
            migrations_before = await db.fetch("SELECT * FROM schema_migrations ORDER BY version")
        finally:
            await db.close()

    # Every child is gone: its ports are free again, and PostgreSQL is stopped.
    assert all(port_is_free(port) for port in stack.ports)
    assert not (stack.home / "pgdata" / "postmaster.pid").exists()

    async with stack.up() as lines:
        client = await Client.connect(stack.temporal_target)
        description = await client.get_workflow_handle("restart-probe").describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        db = await asyncpg.connect(database_url(lines))
        try:
            assert await db.fetchval("SELECT note FROM restart_probe") == "written before Ctrl-C"
            assert await db.fetch("SELECT * FROM schema_migrations ORDER BY version") == migrations_before
        finally:
            await db.close()


async def test_a_taken_port_fails_fast_naming_the_setting(home: Path) -> None:
    stack = Stack(home)
    taken_port = int(stack.env["NOPIC_HTTP_PORT"])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken_port))
        squatter.listen()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "starter.cli",
            "up",
            env=stack.env,
            cwd=home.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 1
    [error] = [json.loads(line) for line in output.decode().splitlines() if '"error"' in line]
    assert f"port {taken_port}" in error["event"]
    assert "NOPIC_HTTP_PORT" in error["event"]
    assert not (stack.home / "pgdata").exists(), "nothing started before the port check"
