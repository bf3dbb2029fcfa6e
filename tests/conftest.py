"""Fixtures shared by the whole suite: real Temporal servers, started from the binaries in the venv."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.binaries import find_binary
from core.db import create_pool, ensure_database, migrate_url, start_embedded_postgres, with_database
from oid_sandbox.app import SandboxConfig
from oid_sandbox.app import create_app as create_sandbox_app
from tests.servers import RunningSandbox, serve_in_process
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: durable timers of days pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server, with the service's search attributes: for visibility and end-to-end tests."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
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
    server = start_embedded_postgres(tmp_path_factory.mktemp("pg") / "pgdata")
    url = with_database(server.get_uri(), "nopic_test")
    await ensure_database(url)
    await migrate_url(url)
    pool = await create_pool(url)
    yield pool
    await pool.close()
