"""The embedded stack for a benchmark: `nopic up`'s own supervisor, on free ports, in a home of its own.

The children (Temporal dev server, OID sandbox, SMTP sink, worker, HTTP service) inherit this process's
standard output; `quiet_output` sends it to a log file so the table stays readable.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from core.db import create_pool, resolve_database_url
from core.settings import Settings
from core.temporal import connect
from devstack.supervisor import Stack
from tests.support.servers import free_port

# The test suite's sample request and the documents that complete its checklist.
from tests.support.stack import COMPLETE, EXPORTER_OPERATION, pdf
from web import auth
from web.auth import NewUser, UserRole


@dataclass
class BenchStack:
    stack: Stack
    settings: Settings
    pool: asyncpg.Pool
    temporal: Client
    reviewer_token: str
    exporter_token: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    transport_document: dict[str, Any] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        """The process id of one child of the stack ("worker", "api", "temporal", ...)."""
        return next(r.process.pid for r in self.stack.running if r.child.name == name)

    def postgres_pids(self) -> list[int]:
        """The postmaster and its backends (PostgreSQL runs one process per connection)."""
        postmaster = int((self.settings.pgdata_dir / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    async def worker_metrics(self, *names: str) -> dict[str, float]:
        """The worker's SDK metrics of these names (Prometheus text), each summed over its series."""
        url = f"http://127.0.0.1:{self.settings.worker_metrics_port}/metrics"
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(url)).raise_for_status().text
        totals = dict.fromkeys(names, 0.0)
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in totals:
                totals[name] += float(line.rpartition(" ")[2])
        return totals

    def http(self, token: str, *, connections: int = 100) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.settings.http_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


def _bench_environment(home: Path) -> dict[str, str]:
    """Settings for the children: a home of its own, every port free, production's log level."""
    sandbox_port = free_port()
    return {
        "NOPIC_HOME": str(home),
        "NOPIC_TEMPORAL_PORT": str(free_port()),
        "NOPIC_TEMPORAL_UI_PORT": str(free_port()),
        "NOPIC_OID_SANDBOX_PORT": str(sandbox_port),
        # The gateway's URL does not follow the sandbox's port by itself.
        "NOPIC_SMTP_PORT": str(free_port()),
        "NOPIC_HTTP_PORT": str(free_port()),
        "NOPIC_LOG_FORMAT": "json",
        # The worker's SDK metrics (its sticky cache's hits, misses, size): the scale benchmark reads them.
        "NOPIC_WORKER_METRICS_PORT": str(free_port()),
    }


async def _upload(http: httpx.AsyncClient, content: bytes, name: str) -> dict[str, Any]:
    answer = await http.post("/documents", files={"file": (name, content, "application/pdf")})
    answer.raise_for_status()
    stored: dict[str, Any] = answer.json()
    return stored


@asynccontextmanager
async def bench_stack(keep: bool = False) -> AsyncIterator[BenchStack]:
    """The whole stack in a temporary home; a reviewer, an exporter and the documents a request needs."""
    home = Path(tempfile.mkdtemp(prefix="nopic-bench-"))
    saved = {key: os.environ.get(key) for key in _bench_environment(home)}
    saved["NOPIC_DATABASE_URL"] = os.environ.get("NOPIC_DATABASE_URL")
    os.environ.update(_bench_environment(home))
    os.environ.pop("NOPIC_DATABASE_URL", None)
    # As on a normal install: without cached bytecode the workflow sandbox compiles the workflow module
    # from source for every workflow it creates (this machine's environment turns the cache off).
    saved["PYTHONDONTWRITEBYTECODE"] = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # PostgreSQL is started here, not by the supervisor, so the benchmark knows its URL and its pid.
    database_url, postgres = await resolve_database_url(Settings())
    os.environ["NOPIC_DATABASE_URL"] = database_url
    settings = Settings()
    stack = Stack(settings)
    pool: asyncpg.Pool | None = None
    try:
        await stack.start()
        pool = await create_pool(database_url, max_size=4)
        reviewer = await auth.create_user(
            pool, NewUser(username="rita", display_name="Rita Reviewer", role=UserRole.REVIEWER)
        )
        exporter = await auth.create_user(
            pool,
            NewUser(
                username="bea",
                display_name="Bea Biofruits",
                role=UserRole.EXPORTER,
                operation_id=EXPORTER_OPERATION,
            ),
        )
        bench = BenchStack(
            stack=stack,
            settings=settings,
            pool=pool,
            temporal=await connect(settings),
            reviewer_token=reviewer.token,
            exporter_token=exporter.token,
        )
        async with bench.http(exporter.token) as http:
            for kind, supplier in COMPLETE:
                stored = await _upload(http, pdf(kind), f"{kind}.pdf")
                bench.documents.append(
                    {
                        "kind": kind,
                        "file_id": stored["sha256"],
                        "sha256": stored["sha256"],
                        "supplier": supplier,
                    }
                )
            lading = await _upload(http, pdf("bill of lading"), "bill-of-lading.pdf")
            bench.transport_document = {
                "kind": "transport_document_definitive",
                "file_id": lading["sha256"],
                "sha256": lading["sha256"],
            }
        yield bench
    finally:
        if pool is not None:
            await pool.close()
        await stack.stop()
        await asyncio.to_thread(postgres.cleanup)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
