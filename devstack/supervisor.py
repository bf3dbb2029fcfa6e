"""`nopic up`: the whole service on one machine, in the foreground, with one log stream.

The supervisor starts PostgreSQL (embedded, unless NOPIC_DATABASE_URL names a server), applies the schema
migrations, then starts the dependencies of `children()` (Temporal, the OID sandbox, the SMTP sink) together
and, once each answers, the worker and the API.
Ctrl-C (SIGINT) or SIGTERM stops the children in reverse order, then PostgreSQL; all data stays under
NOPIC_HOME, so the next `nopic up` resumes where this one stopped.

A further process of the stack is one more `Child` in `children()`.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from temporalio.service import RPCError

from activities.seal import ensure_seal
from core.binaries import find_binary
from core.db import migrate_url, resolve_database_url
from core.logging import get_logger
from core.settings import Settings
from core.temporal import connect
from web.bootstrap import ensure_first_admin
from workflows.search_attributes import dev_server_flags

log = get_logger("nopic.stack")

READY_TIMEOUT = 60.0
_POLL_INTERVAL = 0.2


class StackError(RuntimeError):
    """The stack cannot start; the message tells the operator what to change."""


@dataclass(frozen=True)
class Port:
    """A TCP port a child listens on, and the setting that moves it."""

    number: int
    host: str
    what: str
    variable: str


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]
    ports: tuple[Port, ...] = ()
    # Polled until it returns True; the start counts as done only then.
    ready: Callable[[], Awaitable[bool]] | None = None
    # What the service stands on (Temporal, the OID sandbox, the SMTP sink): these start together, and
    # the service's own processes once they all answer.
    dependency: bool = False
    # A program that does not log through structlog: its output lines are re-logged as this child's.
    relay_output: bool = False
    # SIGTERM first; SIGKILL if still running after this long (the worker gives activities 10 s).
    stop_timeout: float = 15.0


def children(settings: Settings) -> list[Child]:
    """The processes of the stack: the dependencies, then the service's own."""
    python = [sys.executable, "-m"]
    entries: list[Child] = []
    if settings.temporal_address is None:
        entries.append(temporal_dev_server(settings))
    if settings.oid_sandbox:
        sandbox = f"http://127.0.0.1:{settings.oid_sandbox_port}"
        sandbox_port = Port(settings.oid_sandbox_port, "127.0.0.1", "OID sandbox", "NOPIC_OID_SANDBOX_PORT")
        entries.append(
            Child(
                "oid_sandbox",
                [*python, "devstack.oid_sandbox"],
                ports=(sandbox_port,),
                ready=lambda: http_answers(f"{sandbox}/health"),
                dependency=True,
            )
        )
    if settings.smtp_sink:
        entries.append(
            Child(
                "smtp_sink",
                [*python, "devstack.smtp_sink"],
                ports=(Port(settings.smtp_port, settings.smtp_host, "SMTP sink", "NOPIC_SMTP_PORT"),),
                ready=lambda: tcp_answers(settings.smtp_host, settings.smtp_port),
                dependency=True,
            )
        )
    entries += [
        Child("worker", [*python, "worker"]),
        Child(
            "api",
            [*python, "starter.cli", "api"],
            ports=(Port(settings.http_port, settings.http_host, "HTTP service", "NOPIC_HTTP_PORT"),),
            ready=lambda: http_answers(f"http://{settings.http_host}:{settings.http_port}/health"),
        ),
    ]
    return entries


# The dev server's SQLite file in write-ahead-log mode, each commit still synced to disk (synchronous=FULL):
# nothing committed is lost to a crash or a power cut, and the server completes about twice the workflows
# it did with the rollback journal (the engine benchmark, README "Performance").
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=full")


def temporal_dev_server(settings: Settings) -> Child:
    argv = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.temporal_db_file),
        "--ip",
        settings.temporal_host,
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--ui-disable-news-fetch",  # no internet needed, none wanted
        "--log-format",
        "json",
        "--log-level",
        "warn",
        *dev_server_flags(),
        *(flag for pragma in SQLITE_PRAGMAS for flag in ("--sqlite-pragma", pragma)),
    ]
    host = settings.temporal_host
    return Child(
        "temporal",
        argv,
        ports=(
            Port(settings.temporal_port, host, "Temporal server (gRPC)", "NOPIC_TEMPORAL_PORT"),
            Port(settings.temporal_ui_port, host, "Temporal web UI", "NOPIC_TEMPORAL_UI_PORT"),
        ),
        ready=lambda: _temporal_answers(settings),
        relay_output=True,
        dependency=True,
    )


async def _temporal_answers(settings: Settings) -> bool:
    try:
        client = await connect(settings)
        return await client.service_client.check_health(timeout=timedelta(seconds=2))
    except (RuntimeError, RPCError):
        return False


async def http_answers(url: str) -> bool:
    """Readiness of an HTTP child: it answers `url` at all."""
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            await http.get(url)
    except httpx.HTTPError:
        return False
    return True  # any answer, even 503, means the service is serving


async def tcp_answers(host: str, port: int) -> bool:
    """Readiness of a non-HTTP child (the SMTP sink): it accepts a connection."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


def check_ports_free(ports: list[Port]) -> None:
    """Fail before starting anything if a port is taken, naming the setting that moves it."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # Lets the probe bind over a previous run's TIME_WAIT connections, not over a live listener.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((port.host, port.number))
            except OSError as exc:
                raise StackError(
                    f"port {port.number} ({port.what}) on {port.host} is taken: stop what uses it, "
                    f"or set {port.variable} to a free port"
                ) from exc


@dataclass
class RunningChild:
    """A child as it runs: its process, and the task relaying its output."""

    child: Child
    process: asyncio.subprocess.Process
    relay: asyncio.Task[None] | None = None
    stopping: bool = False


@dataclass
class Stack:
    settings: Settings
    running: list[RunningChild] = field(default_factory=list)
    _postgres: Any = None

    async def start(self) -> None:
        entries = children(self.settings)
        check_ports_free([port for child in entries for port in child.ports])
        self.settings.home.mkdir(parents=True, exist_ok=True)

        url, self._postgres = await resolve_database_url(self.settings)
        log.info("postgres answering", embedded=self._postgres is not None, database=_without_password(url))
        applied = await migrate_url(url)
        log.info("schema up to date", applied=[m.path.name for m in applied])
        await ensure_first_admin(url, self.settings)
        ensure_seal(self.settings)

        env = {**os.environ, "NOPIC_DATABASE_URL": url}
        dependencies = [child for child in entries if child.dependency]
        own = [child for child in entries if not child.dependency]
        for stage in (dependencies, own):
            await self._start_together(stage, env)
        log.info(
            "nopic is up",
            http=f"http://{self.settings.http_host}:{self.settings.http_port}",
            temporal_ui=None
            if self.settings.temporal_address
            else f"http://{self.settings.temporal_host}:{self.settings.temporal_ui_port}",
            home=str(self.settings.home.resolve()),
        )

    async def _start_together(self, stage: list[Child], env: dict[str, str]) -> None:
        """Start these children at once; when one cannot start, the others' starts are cancelled (what is
        running is in `self.running`, for `stop`) and its reason is raised as it is."""
        try:
            async with asyncio.TaskGroup() as starting:
                for child in stage:
                    starting.create_task(self.start_child(child, env))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None

    def child(self, name: str) -> RunningChild:
        [running] = [r for r in self.running if r.child.name == name]
        return running

    async def start_child(self, child: Child, env: dict[str, str]) -> None:
        """Start one child and wait until it answers (a child started again after it stopped, too)."""
        log.info("starting", process=child.name)
        pipe = asyncio.subprocess.PIPE if child.relay_output else None
        process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=env,
            stdout=pipe,
            stderr=asyncio.subprocess.STDOUT if child.relay_output else None,
            # Own session: the terminal's Ctrl-C reaches only the supervisor, which stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_supervisor,
        )
        running = RunningChild(child, process)
        if process.stdout is not None:
            running.relay = asyncio.create_task(_relay(running, process.stdout))
        self.running.append(running)
        if child.ready is not None:
            await self._wait_ready(running, child.ready)

    async def _wait_ready(self, running: RunningChild, ready: Callable[[], Awaitable[bool]]) -> None:
        child = running.child
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT
        while not await ready():
            if running.process.returncode is not None:
                raise StackError(f"{child.name} exited with code {running.process.returncode} while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise StackError(f"{child.name} did not answer within {READY_TIMEOUT:.0f} s")
            await asyncio.sleep(_POLL_INTERVAL)
        log.info("answering", process=child.name)

    async def wait_for_exit(self) -> RunningChild:
        """Wait until some child exits (it should not, while the stack runs) and return it."""
        waits = {asyncio.create_task(r.process.wait()): r for r in self.running}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[done.pop()]

    async def stop(self) -> None:
        for running in reversed(self.running):
            await stop_child(running)
        self.running.clear()
        if self._postgres is not None:
            log.info("stopping", process="postgres")
            await asyncio.to_thread(self._postgres.cleanup)
            self._postgres = None


async def stop_child(running: RunningChild) -> None:
    """SIGTERM, then SIGKILL after the child's stop timeout."""
    process, name = running.process, running.child.name
    if process.returncode is None:
        log.info("stopping", process=name)
        running.stopping = True
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), running.child.stop_timeout)
        except TimeoutError:
            log.warning("did not stop in time; killing it", process=name)
            process.kill()
            await process.wait()
    if running.relay is not None:
        await running.relay
    clean = process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled
    log.info("stopped", process=name, exit_code=process.returncode, clean=clean)


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_supervisor() -> None:
    """In the child, before exec: if the supervisor is killed outright, the kernel sends the child SIGTERM.

    Without it, a `kill -9` of `nopic up` would leave its children holding their ports.
    """
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


async def _relay(running: RunningChild, stream: asyncio.StreamReader) -> None:
    """Re-log a foreign program's output, so the stack keeps one stream of structured lines.

    Once the child is asked to stop, its complaints about connections closing are expected: debug only.
    """
    child_log = log.bind(process=running.child.name)
    async for raw in stream:
        line = raw.decode(errors="replace").strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "msg" in record:
            level = _LEVELS.get(str(record.get("level", "info")).lower(), logging.WARNING)
            detail = {k: v for k, v in record.items() if k not in {"msg", "level", "time", "ts", "event"}}
            child_log.log(logging.DEBUG if running.stopping else level, record["msg"], **detail)
        else:
            child_log.info(line)


async def run(settings: Settings) -> int:
    """Run the stack until Ctrl-C, SIGTERM or a child's exit; the exit code for the CLI."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    stack = Stack(settings)
    stopped = asyncio.create_task(stop.wait())
    code = 0
    try:
        startup = asyncio.create_task(stack.start())
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():
            startup.cancel()
            log.info("stop requested while starting")
            await asyncio.gather(startup, return_exceptions=True)
            return 0
        startup.result()
        exited = asyncio.create_task(stack.wait_for_exit())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            gone = exited.result()
            log.error(
                "a process of the stack exited; stopping the rest",
                process=gone.child.name,
                exit_code=gone.process.returncode,
            )
            code = 1
        else:
            exited.cancel()
            log.info("stop requested")
    except StackError as exc:
        log.error(str(exc))
        code = 1
    finally:
        stopped.cancel()
        await stack.stop()
    return code
