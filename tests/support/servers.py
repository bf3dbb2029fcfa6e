"""Real servers started inside the test process: the OID sandbox (uvicorn) on a free port."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from activities.oid_contract import Faults, Operation
from devstack.oid_sandbox.store import SandboxStore


@dataclass
class RunningSandbox:
    """An OID sandbox served by uvicorn on a free local port, in this test process."""

    base_url: str
    api_key: str
    app: FastAPI

    @property
    def store(self) -> SandboxStore:
        store: SandboxStore = self.app.state.store
        return store

    def set_faults(self, faults: Faults) -> None:
        self.app.state.faults = faults

    def add_operation(self, operation_id: str, name: str, status: str = "Certified") -> None:
        self.store.put_operation(
            Operation(operation_id=operation_id, name=name, status=status, certifier="Certisys")
        )


_handed_out: set[int] = set()
_chance = random.SystemRandom()  # not the global generator, which a test may seed


def _ports_the_kernel_never_picks() -> range:
    """Ports below the kernel's ephemeral range: it never hands them to an outgoing connection or to a
    server that binds port 0, so one found free stays free until a child takes it (a machine shared with
    other test runs opens hundreds of connections a second, each on some ephemeral port)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    # The test run's workers (pytest-xdist's gw0, gw1, ...) each take every n-th port of the range, so two
    # never hand out the same one.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return range(max(1024, low - 12000) + worker, low, workers)


def free_port() -> int:
    """A TCP port nothing listens on now, for a child process to take: outside the ephemeral range, and
    never the same one twice in a test run."""
    candidates = _ports_the_kernel_never_picks()
    while True:
        port = _chance.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


@asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a port the OS picks) for the duration of the block; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
