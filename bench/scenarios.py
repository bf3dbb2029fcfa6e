"""The six benchmarks. Each takes a freshly started stack and the sizes, and returns its figures.

Requests are driven the way people drive them: over HTTP with a reviewer's and an exporter's API token.
Only where a benchmark needs many requests already waiting (1,000 in review, 10,000 on their deadline
timers) are they started directly, each with the state a continued-as-new run carries (`carried_state`),
copied from one real request that went that far through the API. Such a workflow is the real one, waiting
in the real step; only the minutes of getting thousands there are skipped.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.common import WorkflowIDConflictPolicy

from bench.dashboard import dashboard
from bench.engine import Ping, Trivial
from bench.machine import cpu_seconds, rss_mib
from bench.stack import BenchStack
from bench.stats import Run, latency_summary, paced, run_concurrently
from core.settings import policy_from_settings
from domain.request import parse_request_form
from domain.state import Actor, NopicRequestInput, RequestState, Role, workflow_id
from starter.client import WORKFLOW_TYPE, RequestClient
from tests.support.stack import first_shipment, request_body

Figures = dict[str, Any]
RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Sizes:
    engine_workflows: int = 300
    engine_concurrency: int = 20
    intake_requests: int = 200
    intake_concurrency: int = 10
    open_requests: int = 1_000
    approvals: int = 200
    action_interval: float = 0.25
    lifecycles: int = 100
    lifecycle_concurrency: int = 10
    scale_open: int = 10_000
    scale_actions: int = 100
    dashboard_rows: int = 100_000
    dashboard_queries: int = 400
    seed_concurrency: int = 20
    profile: bool = False


QUICK = Sizes(
    engine_workflows=50,
    intake_requests=20,
    intake_concurrency=5,
    open_requests=50,
    approvals=20,
    lifecycles=10,
    lifecycle_concurrency=5,
    scale_open=200,
    scale_actions=10,
    dashboard_rows=2_000,
    dashboard_queries=40,
)


# ---------------------------------------------------------------------------------------------- measuring


class Cpu:
    """CPU seconds used by each process of the stack between `start()` and `stop()`."""

    def __init__(self, bench: BenchStack) -> None:
        self._pids = {name: [bench.pid(name)] for name in ("worker", "api", "temporal", "oid_sandbox")}
        self._pids["postgres"] = bench.postgres_pids()
        self._bench = bench
        self._before: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        sample: dict[int, float] = {}
        for pids in self._pids.values():
            for pid in pids:
                try:
                    sample[pid] = cpu_seconds(pid)
                except OSError:
                    continue  # a PostgreSQL backend that has exited
        return sample

    def start(self) -> None:
        self._pids["postgres"] = self._bench.postgres_pids()
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {
            name: round(sum(after[p] - self._before[p] for p in pids if p in after and p in self._before), 2)
            for name, pids in self._pids.items()
        }


def per_item_ms(cpu: dict[str, float], count: int) -> dict[str, float]:
    return {name: round(seconds * 1000 / max(count, 1), 1) for name, seconds in cpu.items()}


@asynccontextmanager
async def profiled(bench: BenchStack, name: str, enabled: bool) -> AsyncIterator[None]:
    """With --profile: py-spy samples the worker and the HTTP service while the block runs."""
    if not enabled:
        yield
        return
    RESULTS.mkdir(exist_ok=True)
    spies = []
    py_spy = str(Path(sys.executable).parent / "py-spy")
    for process in ("worker", "api"):
        out = RESULTS / f"profile-{name}-{process}.txt"
        spies.append(
            await asyncio.create_subprocess_exec(
                py_spy,
                "record",
                "--pid",
                str(bench.pid(process)),
                "--format",
                "raw",
                "--rate",
                "50",
                "--nonblocking",
                "-o",
                str(out),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        await asyncio.gather(*(spy.wait() for spy in spies))


def _check(answer: httpx.Response, expected: int = 200) -> dict[str, Any]:
    if answer.status_code != expected:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text[:300]}"
        )
    body: dict[str, Any] = answer.json()
    return body


# ---------------------------------------------------------------------------------------------- driving


async def submit(http: httpx.AsyncClient, bench: BenchStack, product: str = "Organic dried mango") -> str:
    body = _check(
        await http.post("/requests", json=request_body(documents=bench.documents, product=product)), 201
    )
    if body["status"] != "in_review":
        raise RuntimeError(f"request {body['id']} is {body['status']}, not in review")
    request_id: str = body["id"]
    return request_id


async def approve(http: httpx.AsyncClient, request_id: str) -> None:
    state = _check(await http.post(f"/requests/{request_id}/actions/approve", json={}))
    if state["status"] != "issuing":
        raise RuntimeError(f"approved {request_id} is {state['status']}")


async def deliver_transport_document(http: httpx.AsyncClient, bench: BenchStack, request_id: str) -> None:
    answer = await http.post(
        f"/requests/{request_id}/actions/transport-document",
        json={"document": bench.transport_document, **first_shipment()},
    )
    state = _check(answer)
    if state["status"] != "active":
        raise RuntimeError(f"{request_id} is {state['status']} after its transport document")


async def wait_for_status(
    http: httpx.AsyncClient, request_id: str, status: str, within: float = 300.0, every: float = 0.1
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        state: dict[str, Any] = _check(await http.get(f"/requests/{request_id}"))["state"]
        if state["status"] == status:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id} still {state['status']} after {within:.0f} s, not {status}")
        await asyncio.sleep(every)


async def template_state(bench: BenchStack, issued: bool) -> RequestState:
    """One real request through the API: in review, or (issued) waiting for its transport document."""
    async with bench.http(bench.exporter_token) as exporter, bench.http(bench.reviewer_token) as reviewer:
        request_id = await submit(exporter, bench)
        if not issued:
            state = await wait_for_status(exporter, request_id, "in_review")
        else:
            await approve(reviewer, request_id)
            state = await wait_for_status(exporter, request_id, "awaiting_transport_document")
    return RequestState.model_validate(state)


async def seed(bench: BenchStack, template: RequestState, count: int, concurrency: int) -> list[str]:
    """`count` workflows carrying on from a copy of `template`'s state, each under a request id of its own."""
    prefix = f"S{uuid.uuid4().hex[:6].upper()}"
    ids = [f"{prefix}-{n:06d}" for n in range(count)]

    async def start(index: int) -> None:
        request_id = ids[index]
        # Each copy its own NOPIC numbers: the read model keeps every number once.
        certificates = [
            c.model_copy(update={"number": f"999-{index:010d}-{c.commodity_index:06d}"}) if c.number else c
            for c in template.certificates
        ]
        state = template.model_copy(update={"request_id": request_id, "certificates": certificates})
        await bench.temporal.start_workflow(
            WORKFLOW_TYPE,
            NopicRequestInput(
                request_id=request_id, form=state.form, policy=state.policy, carried_state=state
            ),
            id=workflow_id(request_id),
            task_queue=bench.settings.temporal_task_queue,
        )

    run = await run_concurrently(count, concurrency, start)
    if run.errors:
        raise RuntimeError(f"seeding failed: {run.errors[0]}")
    # The worker has taken them in once the last ones answer a query.
    client = RequestClient(bench.temporal, bench.settings.temporal_task_queue)
    for request_id in ids[-5:]:
        await client.state(request_id, wait=3600)
    return ids


async def taken_in(bench: BenchStack, ids: list[str], expected: int) -> None:
    """Until the worker has taken in `expected` of these requests (recorded, checked and mailed)."""
    query = "SELECT count(*) FROM requests WHERE request_id = ANY($1::text[]) AND last_sequence >= 2"
    done = 0
    while done < expected:
        await asyncio.sleep(0.2)
        done = await bench.pool.fetchval(query, ids)


def rate_figures(run: Run) -> Figures:
    return {
        "completed": len(run.latencies),
        "errors": len(run.errors),
        "first_error": run.errors[0] if run.errors else None,
        "wall_s": round(run.wall_seconds, 2),
        "per_s": round(run.rate, 2),
        **latency_summary(run.latencies),
    }


# ---------------------------------------------------------------------------------------------- 6. engine


async def engine_baseline(bench: BenchStack, sizes: Sizes) -> Figures:
    """Bare Temporal here: a trivial workflow with one activity, its worker a process of its own."""
    env = {**os.environ, "BENCH_TASK_QUEUE": "bench-engine"}
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.engine_worker", env=env)
    try:
        await asyncio.gather(*(_trivial(bench, f"warm-{n}", wait=True) for n in range(5)))
        count, concurrency = sizes.engine_workflows, sizes.engine_concurrency
        tag = uuid.uuid4().hex[:8]
        began = time.perf_counter()
        handles: list[Any] = []

        async def start(index: int) -> None:
            handles.append(await _trivial(bench, f"{tag}-{index}", wait=False))

        starts = await run_concurrently(count, concurrency, start)
        await asyncio.gather(*(handle.result() for handle in handles))
        completed = time.perf_counter() - began

        async def execute(index: int) -> None:
            await _trivial(bench, f"{tag}-x{index}", wait=True)

        executed = await run_concurrently(count, concurrency, execute)
    finally:
        worker.send_signal(signal.SIGTERM)
        await worker.wait()
    return {
        "starts": rate_figures(starts),
        "completed_per_s": round(count / completed, 2),
        "start_and_wait": rate_figures(executed),
        "concurrency": concurrency,
    }


async def _trivial(bench: BenchStack, workflow_key: str, *, wait: bool) -> Any:
    handle = await bench.temporal.start_workflow(
        Trivial.run, Ping(number=0), id=f"bench-trivial-{workflow_key}", task_queue="bench-engine"
    )
    if wait:
        await handle.result()
    return handle


# ---------------------------------------------------------------------------------------------- 1. intake


async def intake(bench: BenchStack, sizes: Sizes) -> Figures:
    """Submissions per second through the API, against the Temporal client alone, at the same concurrency."""
    count, concurrency = sizes.intake_requests, sizes.intake_concurrency
    settings = bench.settings
    policy = policy_from_settings(settings)
    actor = Actor(person_id="bea", name="Bea Biofruits", role=Role.EXPORTER)
    cpu = Cpu(bench)

    def form() -> Any:
        now = datetime.now(UTC)
        return parse_request_form({**request_body(documents=bench.documents), "received_at": now}, now)

    async with bench.http(bench.exporter_token, connections=concurrency) as http:
        await submit(http, bench)  # warm-up
        cpu.start()
        async with profiled(bench, "intake", sizes.profile):
            api = await run_concurrently(count, concurrency, lambda _: submit(http, bench))
        api_cpu = cpu.stop()

    # The same start and wait for the first state as the API's, called in this process: no HTTP, no auth.
    client = RequestClient(bench.temporal, settings.temporal_task_queue)
    tag = uuid.uuid4().hex[:6].upper()
    direct = await run_concurrently(
        count, concurrency, lambda n: client.submit(f"C{tag}-{n:06d}", form(), policy, actor)
    )

    raw_ids = [f"R{tag}-{n:06d}" for n in range(count)]

    async def start_raw(index: int) -> None:
        request_id = raw_ids[index]
        await bench.temporal.start_workflow(
            WORKFLOW_TYPE,
            NopicRequestInput(request_id=request_id, form=form(), policy=policy, submitted_by=actor),
            id=workflow_id(request_id),
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    began = time.perf_counter()
    raw = await run_concurrently(count, concurrency, start_raw)
    # What the raw starts leave behind: the worker takes each in (recorded, checked, mailed) after.
    await taken_in(bench, raw_ids, count - len(raw.errors))
    raw_taken_in = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "api": rate_figures(api),
        "client_submit": rate_figures(direct),
        "raw_start": rate_figures(raw),
        "raw_taken_in_per_s": round(count / raw_taken_in, 2),
        "api_over_raw_start": round(api.rate / raw.rate, 3) if raw.rate else None,
        "api_over_client_submit": round(api.rate / direct.rate, 3) if direct.rate else None,
        "api_over_raw_taken_in": round(api.rate * raw_taken_in / count, 3),
        "cpu_ms_per_api_request": per_item_ms(api_cpu, len(api.latencies)),
    }


# ---------------------------------------------------------------------------------------------- 2. approve


async def action_latency(bench: BenchStack, sizes: Sizes) -> Figures:
    """Approve, one reviewer's click after the other, with `open_requests` requests in review."""
    template = await template_state(bench, issued=False)
    ids = await seed(bench, template, sizes.open_requests, sizes.seed_concurrency)
    chosen = random.sample(ids, min(sizes.approvals, len(ids)))
    cpu = Cpu(bench)
    async with bench.http(bench.reviewer_token) as reviewer:
        cpu.start()
        async with profiled(bench, "approve", sizes.profile):
            run = await paced(len(chosen), sizes.action_interval, lambda n: approve(reviewer, chosen[n]))
        used = cpu.stop()
    return {
        "open_requests": len(ids) + 1,
        "interval_s": sizes.action_interval,
        **rate_figures(run),
        "cpu_ms_per_approval": per_item_ms(used, len(run.latencies)),
    }


# ---------------------------------------------------------------------------------------------- 3. lifecycles


async def lifecycles(bench: BenchStack, sizes: Sizes) -> Figures:
    """Submit, approve, issue in OID (sandbox), transport document, active: whole lifecycles per second."""
    cpu = Cpu(bench)
    outbox = bench.settings.outbox_dir
    async with (
        bench.http(bench.exporter_token, connections=sizes.lifecycle_concurrency) as exporter,
        bench.http(bench.reviewer_token, connections=sizes.lifecycle_concurrency) as reviewer,
    ):

        async def lifecycle(_: int) -> None:
            request_id = await submit(exporter, bench)
            await approve(reviewer, request_id)
            await wait_for_status(exporter, request_id, "awaiting_transport_document", every=0.2)
            await deliver_transport_document(exporter, bench, request_id)

        await lifecycle(0)  # warm-up
        mails_before = len(list(outbox.glob("*.eml")))
        cpu.start()
        async with profiled(bench, "lifecycles", sizes.profile):
            run = await run_concurrently(sizes.lifecycles, sizes.lifecycle_concurrency, lifecycle)
        used = cpu.stop()
    await asyncio.sleep(1)  # the last mails of the last requests
    mails = len(list(outbox.glob("*.eml"))) - mails_before
    return {
        "concurrency": sizes.lifecycle_concurrency,
        **rate_figures(run),
        "mails_per_lifecycle": round(mails / max(len(run.latencies), 1), 2),
        "cpu_ms_per_lifecycle": per_item_ms(used, len(run.latencies)),
    }


# ---------------------------------------------------------------------------------------------- 4. scale


async def scale(bench: BenchStack, sizes: Sizes) -> Figures:
    """`scale_open` requests waiting on their customs-deadline timers: worker memory; actions still fast?"""
    template = await template_state(bench, issued=True)
    worker, temporal = bench.pid("worker"), bench.pid("temporal")
    await asyncio.sleep(2)
    before = {"worker": rss_mib(worker), "temporal": rss_mib(temporal)}
    began = time.perf_counter()
    ids = await seed(bench, template, sizes.scale_open, sizes.seed_concurrency)
    seeded_s = time.perf_counter() - began
    await asyncio.sleep(2)
    after = {"worker": rss_mib(worker), "temporal": rss_mib(temporal)}
    chosen = random.sample(ids, min(sizes.scale_actions, len(ids)))
    async with bench.http(bench.exporter_token) as exporter:
        async with profiled(bench, "scale", sizes.profile):
            run = await paced(
                len(chosen),
                sizes.action_interval,
                lambda n: deliver_transport_document(exporter, bench, chosen[n]),
            )
    return {
        "open_requests": len(ids) + 1,
        "seeded_per_s": round(len(ids) / seeded_s, 1),
        "rss_mib_before": {k: round(v, 1) for k, v in before.items()},
        "rss_mib_after": {k: round(v, 1) for k, v in after.items()},
        "worker_kib_per_open_request": round((after["worker"] - before["worker"]) * 1024 / len(ids), 2),
        "temporal_kib_per_open_request": round((after["temporal"] - before["temporal"]) * 1024 / len(ids), 2),
        "action": "transport-document",
        "interval_s": sizes.action_interval,
        **rate_figures(run),
    }


BENCHMARKS: dict[str, Callable[[BenchStack, Sizes], Awaitable[Figures]]] = {
    "engine": engine_baseline,
    "intake": intake,
    "approve": action_latency,
    "lifecycles": lifecycles,
    "dashboard": dashboard,
    "scale": scale,  # last: the longest
}
