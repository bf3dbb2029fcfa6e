"""Real servers started inside the test process: the OID sandbox (uvicorn) on a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from oid_sandbox.models import Faults, Operation
from oid_sandbox.store import SandboxStore


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


def free_port() -> int:
    """A TCP port nothing listens on now, for a child process to take. Never the same one twice in a test
    run: once a probe is closed the OS may offer its port again, and two children would then want one."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _handed_out:
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
