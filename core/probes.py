"""Liveness and readiness over HTTP for a process that is not a web service (the worker).

    GET /health/live   200 while the process runs
    GET /health/ready  200 when `ready()` finds nothing wrong, else 503 with its reason

The standard library's HTTP server answers from a thread of its own, so the probes never compete with the
worker for its event loop; each readiness request runs `ready()` on that loop, so the answer is the state of
the moment, not a cached one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A check returns None when ready, or the reason why not.
ReadinessCheck = Callable[[], Awaitable[str | None]]

# Longer than any check's own timeouts, so that a stuck loop shows as "not ready", never as a hung probe.
_CHECK_TIMEOUT = 5.0


class _ProbeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ready: ReadinessCheck, loop: asyncio.AbstractEventLoop):
        super().__init__(address, _ProbeHandler)
        self.ready = ready
        self.loop = loop

    def readiness(self) -> str | None:
        future = asyncio.run_coroutine_threadsafe(_call(self.ready), self.loop)
        try:
            return future.result(timeout=_CHECK_TIMEOUT)
        except TimeoutError:
            future.cancel()
            return f"the readiness check took longer than {_CHECK_TIMEOUT:.0f} s"


async def _call(ready: ReadinessCheck) -> str | None:
    return await ready()


class _ProbeHandler(BaseHTTPRequestHandler):
    server: _ProbeServer

    def do_GET(self) -> None:
        if self.path == "/health/live":
            self._answer(HTTPStatus.OK, {"status": "live"})
        elif self.path == "/health/ready":
            reason = self.server.readiness()
            if reason is None:
                self._answer(HTTPStatus.OK, {"status": "ready"})
            else:
                self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "reason": reason})
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"status": "not found"})

    def _answer(self, status: HTTPStatus, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: an orchestrator probes every few seconds, which would drown the process's own log."""


class Probes:
    """The probe server of this process, running until `close()`."""

    def __init__(self, host: str, port: int, ready: ReadinessCheck) -> None:
        self._server = _ProbeServer((host, port), ready, asyncio.get_running_loop())
        self._thread = threading.Thread(target=self._server.serve_forever, name="probes", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
