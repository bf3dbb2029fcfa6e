"""The whole service as `nopic up` runs it (`devstack.supervisor.Stack`, every process a child): fault tests.

Its own embedded PostgreSQL, a Temporal dev server persisted to a SQLite file, the OID sandbox, the SMTP
sink, the real worker (`python -m worker`) and the HTTP service, each a subprocess on free ports under a
home of its own. The test can kill -9 the worker, restart any child, start a second worker, read each
worker's SDK metrics, and stop PostgreSQL, then start each again as the supervisor would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from activities.oid_contract import API_KEY_HEADER, Faults
from core.db import DATABASE_NAME, create_pool, ensure_database, start_embedded_postgres, with_database
from core.settings import Settings
from core.temporal import connect
from devstack.supervisor import RunningChild, Stack, stop_child
from tests.support.dirs import data_dir_outside_pytest_tmp
from tests.support.servers import free_port
from tests.support.stack import EXPORTER_OPERATION, Person, person
from web.auth import UserRole

SANDBOX_KEY = "faults-key"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """NOPIC_* variables for the children (they read their settings from the environment)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


@dataclass
class FaultStack:
    settings: Settings
    stack: Stack
    database_url: str
    postgres: Any
    pool: asyncpg.Pool
    reviewer: Person
    exporter: Person
    # Each worker's Temporal SDK metrics (`/metrics` on NOPIC_WORKER_METRICS_PORT), by child name; the
    # variables a child has beyond the stack's (a second worker's own metrics port).
    metrics_ports: dict[str, int] = field(default_factory=dict)
    child_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"

    def client(self, who: Person, timeout: float = 30) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=who.headers, timeout=timeout)

    def child(self, name: str) -> RunningChild:
        return self.stack.child(name)

    def _env(self, name: str) -> dict[str, str]:
        return {**os.environ, "NOPIC_DATABASE_URL": self.database_url, **self.child_env.get(name, {})}

    async def _start(self, running: RunningChild) -> None:
        self.stack.running.remove(running)
        await self.stack.start_child(running.child, self._env(running.child.name))

    async def add_worker(self, name: str) -> None:
        """Another worker process on the same task queue, as `docker compose --scale worker=2` runs one."""
        port = free_port()
        self.metrics_ports[name] = port
        self.child_env[name] = {"NOPIC_WORKER_METRICS_PORT": str(port)}
        await self.stack.start_child(replace(self.child("worker").child, name=name), self._env(name))

    async def worker_metrics(self, name: str = "worker") -> Metrics:
        """The worker's SDK metrics now; empty while it does not answer (dead, or still starting)."""
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                answer = await http.get(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics")
        except httpx.HTTPError:
            return Metrics({})
        return Metrics.parse(answer.text)

    async def temporal(self) -> Client:
        return await connect(self.settings)

    async def kill(self, name: str, *, restart: bool = True) -> RunningChild:
        """kill -9, no goodbye, then start it again as the supervisor does; with `restart=False` it stays
        dead (the test looks at what it left behind) until the test passes it to `start`."""
        running = self.child(name)
        running.process.send_signal(signal.SIGKILL)
        await running.process.wait()
        if restart:
            await self._start(running)
        return running

    async def stop(self, name: str) -> RunningChild:
        running = self.child(name)
        await stop_child(running)
        return running

    async def start(self, running: RunningChild) -> None:
        await self._start(running)

    async def stop_postgres(self) -> None:
        await asyncio.to_thread(self.postgres.cleanup)

    async def start_postgres(self) -> None:
        self.postgres = await asyncio.to_thread(start_embedded_postgres, self.settings.pgdata_dir)
        assert with_database(self.postgres.get_uri(), DATABASE_NAME) == self.database_url

    async def set_oid_faults(self, faults: Faults) -> None:
        async with httpx.AsyncClient(base_url=self.settings.oid_url, timeout=10) as http:
            answer = await http.put(
                "/admin/faults", json=faults.model_dump(), headers={API_KEY_HEADER: SANDBOX_KEY}
            )
            answer.raise_for_status()

    def messages(self, requests: set[str]) -> list[SinkMessage]:
        """Every message about these requests that the SMTP sink received, repeats included."""
        parser = BytesParser(policy=policy.default)
        found = []
        for path in self.settings.outbox_dir.glob("*.eml"):
            message = parser.parsebytes(path.read_bytes())
            if message["X-Nopic-Request-Id"] in requests:
                found.append(
                    SinkMessage(
                        # A long id is folded onto a line of its own, which leaves its leading space.
                        event_id=str(message["X-Nopic-Event-Id"]).strip(),
                        message_id=str(message["Message-ID"]),
                        subject=str(message["Subject"]),
                        to=str(message["To"]),
                        envelope_to=str(message["X-Sink-Rcpt-To"]),
                        # The sink names each file by the moment it took the message, just before its 250.
                        stored_at=datetime.strptime(path.name.split("-")[0], "%Y%m%dT%H%M%S%fZ").replace(
                            tzinfo=UTC
                        ),
                    )
                )
        return found


@dataclass(frozen=True)
class Metrics:
    """Prometheus samples of a worker: (metric name, its labels) -> value."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            pairs = frozenset(
                tuple(pair.split("=", 1)) for pair in labels.rstrip("}").replace('"', "").split(",") if pair
            )
            samples[(name, pairs)] = float(value)  # type: ignore[index]
        return cls(samples)

    def total(self, name: str, **labels: str) -> float:
        """The sum of `name` over the series whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (metric, pairs), v in self.samples.items() if metric == name and wanted <= pairs)


@dataclass(frozen=True)
class SinkMessage:
    """One message as the SMTP sink stored it: what tells a repeat from another message."""

    event_id: str  # '<request id>:<sequence>:<audience>:<kind>' (activities.notifications.Notification)
    message_id: str
    subject: str
    to: str
    envelope_to: str
    stored_at: datetime = field(compare=False)  # not part of what makes two copies the same message

    @property
    def request_id(self) -> str:
        return self.event_id.split(":")[0]

    @property
    def audience_and_kind(self) -> tuple[str, str]:
        _, _, audience, kind = self.event_id.split(":")
        return audience, kind


def _home() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir():
        return Path(tempfile.mkdtemp(prefix="nopic-faults-", dir=shm))
    return data_dir_outside_pytest_tmp("faults")


@asynccontextmanager
async def fault_stack(**extra: str) -> AsyncIterator[FaultStack]:
    """Start the whole stack under a home of its own; `extra` adds NOPIC_* variables (e.g. the worker's
    caps). The home is not under pytest's tmp_path: PostgreSQL's user must reach its data folder."""
    # In memory where there is a tmpfs: the Temporal SQLite file and PostgreSQL then cost no disk syncs.
    home = await asyncio.to_thread(_home)
    postgres = await asyncio.to_thread(start_embedded_postgres, home / "pgdata")
    database_url = with_database(postgres.get_uri(), DATABASE_NAME)
    await ensure_database(database_url)
    sandbox_port, metrics_port = free_port(), free_port()
    values = {
        "NOPIC_HOME": str(home),
        "NOPIC_DATABASE_URL": database_url,
        "NOPIC_TEMPORAL_PORT": str(free_port()),
        "NOPIC_TEMPORAL_UI_PORT": str(free_port()),
        "NOPIC_HTTP_PORT": str(free_port()),
        "NOPIC_OID_SANDBOX_PORT": str(sandbox_port),
        "NOPIC_OID_API_KEY": SANDBOX_KEY,
        "NOPIC_SMTP_PORT": str(free_port()),
        "NOPIC_ISSUANCE_MODE": "api",
        "NOPIC_LOG_LEVEL": "WARNING",
        # The worker's SDK metrics: what the tests read to know a fault was hit, or a kill landed mid-work.
        "NOPIC_WORKER_METRICS_PORT": str(metrics_port),
        **extra,
    }
    with environment(values):
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        stack = Stack(settings)
        running: FaultStack | None = None
        try:
            await stack.start()
            pool = await create_pool(database_url, min_size=1, max_size=4)
            reviewer = await person(pool, "rita", UserRole.REVIEWER)
            exporter = await person(pool, "eddy", UserRole.EXPORTER, EXPORTER_OPERATION)
            running = FaultStack(settings, stack, database_url, postgres, pool, reviewer, exporter)
            running.metrics_ports["worker"] = metrics_port
            yield running
        finally:
            if running is not None:
                await running.pool.close()
            await stack.stop()
            await asyncio.to_thread((running.postgres if running else postgres).cleanup)
            shutil.rmtree(home, ignore_errors=True)
