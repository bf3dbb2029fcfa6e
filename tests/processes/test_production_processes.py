"""The commands the container image runs (`nopic api`, `nopic worker`, `nopic migrate`, ...) start outside a
container, against a real Temporal dev server and a real PostgreSQL, and report live, ready and their metrics.

Each runs as a subprocess through the `nopic` entry point installed in the venv, on free ports, exactly as
compose runs it in a container (only the addresses differ).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import worker as worker_module
from core.binaries import find_binary
from core.probes import Probes
from devstack.supervisor import http_answers
from tests.support.servers import free_port

NOPIC = str(Path(sys.executable).parent / "nopic")
START_TIMEOUT = 30.0

# A probe answers at once on a quiet machine; on a loaded one (both cores busy with other tests) a readiness
# check that asks Temporal once took longer than httpx's default 5 s. The probes' own bounds are tested.
PROBE_TIMEOUT = 30.0


def probe_client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=PROBE_TIMEOUT)


@activity.defn
async def noop() -> None:
    """Registered so that a worker has something to poll for."""


def service_env(home: Path, **settings: str) -> dict[str, str]:
    """The process environment: none of the caller's NOPIC_* settings, only these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOPIC_")}
    env |= {"NOPIC_HOME": str(home), "NOPIC_LOG_FORMAT": "json"}
    env |= {f"NOPIC_{name.upper()}": value for name, value in settings.items()}
    return env


def temporal_target(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@asynccontextmanager
async def running(
    command: str, env: dict[str, str], answers: str | Callable[[], Awaitable[bool]]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `nopic <command>` until it answers (a URL that answers at all, or a check that returns True);
    SIGTERM it on the way out."""
    ready = partial(http_answers, answers) if isinstance(answers, str) else answers
    process = await asyncio.create_subprocess_exec(
        NOPIC, command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not await ready():
            if process.returncode is not None:
                assert process.stdout is not None
                output = (await process.stdout.read()).decode()
                pytest.fail(f"nopic {command} exited with {process.returncode}:\n{output}")
            assert asyncio.get_running_loop().time() < deadline, f"nopic {command} did not answer"
            await asyncio.sleep(0.2)
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.communicate(), 20)


async def nopic(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        NOPIC, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_migrate_applies_every_migration_creates_the_first_admin_and_exits(
    empty_database_url: str, tmp_path: Path
) -> None:
    env = service_env(tmp_path, database_url=empty_database_url)
    outputs = []
    for _ in range(2):  # a second run (the next `compose up`) finds nothing to do and succeeds too
        code, output = await nopic("migrate", env=env)
        assert code == 0, output
        outputs.append(output)
    # The first admin's credentials: in a file readable by the service only, never in the log (what
    # `docker compose logs migrate` shows), which only says where the file is.
    kept = (tmp_path / "first-admin.txt").read_text()
    token = kept.split("token: ", 1)[1].split()[0]
    password = kept.split("password: ", 1)[1].split()[0]
    assert "an admin was created" in outputs[0] and "first-admin.txt" in outputs[0]
    assert token not in outputs[0] and password not in outputs[0]
    assert "an admin was created" not in outputs[1]
    assert (tmp_path / "seal" / "seal-certificate.pem").exists(), "the first start made the seal too"
    conn = await asyncpg.connect(empty_database_url)
    try:
        applied = [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    expected = sorted(int(p.name[:4]) for p in (Path("core") / "migrations").glob("*.sql"))
    assert sorted(applied) == expected


async def test_api_is_live_ready_and_counts_requests(
    dev_server_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    target = temporal_target(dev_server_env)
    env = service_env(tmp_path, http_port=str(port), temporal_address=target, database_url=database_url)
    base = f"http://127.0.0.1:{port}"
    async with running("api", env, f"{base}/health/live"), probe_client(base) as http:
        assert (await http.get("/health/live")).json() == {"status": "live"}
        ready = await http.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {"temporal": "up", "postgres": "up"}
        assert (await nopic("probe", "api", env=env))[0] == 0  # the compose health check

        metrics = await http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics.text)
            for sample in family.samples
        }
        ready_200 = (("method", "GET"), ("route", "/health/ready"), ("status", "200"))
        assert samples[("nopic_http_requests_total", ready_200)] == 2  # ours and the probe's
        ready_route = (("method", "GET"), ("route", "/health/ready"))
        assert samples[("nopic_http_request_duration_seconds_count", ready_route)] == 2


async def test_api_is_live_but_not_ready_while_temporal_is_down(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = service_env(tmp_path, http_port=str(port), temporal_address=nobody, database_url=database_url)
    base = f"http://127.0.0.1:{port}"
    async with running("api", env, f"{base}/health/live"), probe_client(base) as http:
        assert (await http.get("/health/live")).status_code == 200
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json() == {"temporal": "down", "postgres": "up"}
        code, output = await nopic("probe", "api", env=env)
        assert code == 1, output  # the compose health check fails: no traffic for this one


async def test_worker_serves_probes_and_temporal_sdk_metrics(database_url: str, tmp_path: Path) -> None:
    # A server of this test's own, so that stopping it shows the worker's readiness falling.
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error"
    )
    health, metrics = free_port(), free_port()
    env = service_env(
        tmp_path,
        temporal_address=temporal_target(server),
        database_url=database_url,
        worker_health_port=str(health),
        worker_metrics_port=str(metrics),
    )
    base = f"http://127.0.0.1:{health}"
    try:
        async with running("worker", env, f"{base}/health/live"), probe_client(base) as http:
            assert (await http.get("/health/live")).json() == {"status": "live"}

            ready = await _eventually_ready(http)  # once it polls its task queue
            assert ready.json() == {"status": "ready"}
            assert (await nopic("probe", "worker", env=env))[0] == 0  # the compose health check

            sdk = (await http.get(f"http://127.0.0.1:{metrics}/metrics")).text
            assert "temporal_request" in sdk  # the SDK's own counter of calls to the server

            await server.shutdown()
            down = await http.get("/health/ready")
            assert down.status_code == 503
            assert down.json()["reason"].startswith("Temporal does not answer")
            assert (await http.get("/health/live")).status_code == 200
    finally:
        await server.shutdown()


async def _eventually_ready(http: httpx.AsyncClient) -> httpx.Response:
    """Ready within START_TIMEOUT: connecting to Temporal and PostgreSQL may take a busy machine a while."""
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while True:
        answer = await http.get("/health/ready")
        if answer.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.2)


async def test_worker_readiness_follows_polling_and_the_server(task_queue: str) -> None:
    """The readiness check itself, on a worker that polls (an activity is enough to poll)."""
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error"
    )
    try:
        client = await Client.connect(temporal_target(server), data_converter=pydantic_data_converter)
        state = worker_module.WorkerState(client=client)
        probes = Probes("127.0.0.1", 0, state.readiness)
        base = f"http://127.0.0.1:{probes.port}"
        try:
            async with probe_client(base) as http:
                assert (await http.get("/health/ready")).json()["reason"].startswith("starting")
                state.worker = Worker(client, task_queue=task_queue, activities=[noop])
                async with state.worker:
                    state.starting = False
                    assert (await _eventually_ready(http)).json() == {"status": "ready"}
                    await server.shutdown()
                    gone = await http.get("/health/ready")
                    assert gone.status_code == 503
                    assert gone.json()["reason"].startswith("Temporal does not answer")
                assert (await http.get("/health/nothing")).status_code == 404
        finally:
            await asyncio.to_thread(probes.close)
    finally:
        await server.shutdown()


async def test_oid_sandbox_serves_on_the_configured_host_and_port(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(tmp_path, oid_sandbox_port=str(port), oid_api_key="compose-key")
    async with running("oid-sandbox", env, f"http://127.0.0.1:{port}/health"):
        code, output = await nopic("probe", "oid-sandbox", env=env)
        assert code == 0, output
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            operations = await http.get("/api/v1/operations/0000000000", headers={"X-Api-Key": "compose-key"})
            assert operations.status_code in (200, 404)  # the key is accepted: the sandbox read its settings


async def test_smtp_sink_keeps_what_it_receives(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port))

    async def smtp_answers() -> bool:
        try:
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=2):
                return True
        except (aiosmtplib.SMTPException, OSError):
            return False

    async with running("smtp-sink", env, smtp_answers):
        await aiosmtplib.send(
            "Subject: NOPIC issued\r\n\r\nhello\r\n",
            sender="nopic@certifier.example",
            recipients=["exporter@example.com"],
            hostname="127.0.0.1",
            port=port,
        )
    assert [p.suffix for p in (tmp_path / "outbox").iterdir()] == [".eml"]
