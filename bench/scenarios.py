"""The six benchmarks. Each takes a freshly started stack and the sizes, and returns its figures.

Requests are driven the way people drive them: over HTTP with a reviewer's and an exporter's API token.
Only where a benchmark needs many requests already waiting (1,000 in review, 10,000 on their deadline
timers) are they started directly, each with the state a continued-as-new run carries (`carried_state`),
copied from one real request that went that far through the API. Such a workflow is the real one, waiting
in the real step; only the minutes of getting thousands there are skipped.
"""

from __future__ import annotations

import asyncio
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
from bench.engine import TASK_QUEUE as ENGINE_QUEUE
from bench.engine import Ping, Trivial, Twin, TwinPlan
from bench.history import HistoryCounts
from bench.machine import rss_mib
from bench.pairs import Cpu, latency_pairs, rate_pairs
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
    intake_block: int = 30
    intake_concurrency: int = 10
    open_requests: int = 1_000
    approvals: int = 200
    action_interval: float = 0.25
    lifecycle_block: int = 10
    lifecycle_concurrency: int = 10
    pair_rounds: int = 6
    scale_open: int = 10_000
    scale_actions: int = 100
    dashboard_rows: int = 100_000
    dashboard_queries: int = 400
    seed_concurrency: int = 20
    profile: bool = False


QUICK = Sizes(
    engine_workflows=50,
    intake_block=10,
    intake_concurrency=5,
    open_requests=50,
    approvals=20,
    lifecycle_block=5,
    lifecycle_concurrency=5,
    pair_rounds=2,
    scale_open=200,
    scale_actions=10,
    dashboard_rows=2_000,
    dashboard_queries=40,
)


# ---------------------------------------------------------------------------------------------- measuring


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


def rate_figures(run: Run) -> Figures:
    return {
        "completed": len(run.latencies),
        "errors": len(run.errors),
        "first_error": run.errors[0] if run.errors else None,
        "wall_s": round(run.wall_seconds, 2),
        "per_s": round(run.rate, 2),
        **latency_summary(run.latencies),
    }


async def wait_for_row(bench: BenchStack, request_id: str, status: str, within: float = 300.0) -> None:
    """Until the read model has the request in `status`: what a dashboard sees, without asking Temporal."""
    deadline = time.monotonic() + within
    while True:
        found = await bench.pool.fetchval("SELECT status FROM requests WHERE request_id = $1", request_id)
        if found == status:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id} still {found} after {within:.0f} s, not {status}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def engine_worker(bench: BenchStack) -> AsyncIterator[int]:
    """The engine's own workflows' worker (`bench.engine_worker`), a process of its own; its pid."""
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.engine_worker")
    try:
        await asyncio.gather(*(_trivial(bench, f"warm-{uuid.uuid4().hex[:8]}", wait=True) for _ in range(5)))
        yield worker.pid
    finally:
        worker.send_signal(signal.SIGTERM)
        await worker.wait()


# ---------------------------------------------------------------------------------------------- 6. engine


async def engine_baseline(bench: BenchStack, sizes: Sizes) -> Figures:
    """Bare Temporal here: a trivial workflow with one activity, its worker a process of its own."""
    async with engine_worker(bench):
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
    return {
        "starts": rate_figures(starts),
        "completed_per_s": round(count / completed, 2),
        "start_and_wait": rate_figures(executed),
        "concurrency": concurrency,
    }


async def _trivial(bench: BenchStack, workflow_key: str, *, wait: bool) -> Any:
    handle = await bench.temporal.start_workflow(
        Trivial.run, Ping(number=0), id=f"bench-trivial-{workflow_key}", task_queue=ENGINE_QUEUE
    )
    if wait:
        await handle.result()
    return handle


# ---------------------------------------------------------------------------------------------- 1. intake


async def intake(bench: BenchStack, sizes: Sizes) -> Figures:
    """Submissions through the API beside raw `start_workflow` calls of the same workflow and input, in
    blocks interleaved A B B A at the same concurrency."""
    settings = bench.settings
    policy = policy_from_settings(settings)
    actor = Actor(person_id="bea", name="Bea Biofruits", role=Role.EXPORTER)
    tag = uuid.uuid4().hex[:6].upper()

    async def start_raw(index: int) -> None:
        now = datetime.now(UTC)
        form = parse_request_form({**request_body(documents=bench.documents), "received_at": now}, now)
        request_id = f"R{tag}-{index:06d}"
        await bench.temporal.start_workflow(
            WORKFLOW_TYPE,
            NopicRequestInput(request_id=request_id, form=form, policy=policy, submitted_by=actor),
            id=workflow_id(request_id),
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async with bench.http(bench.exporter_token, connections=sizes.intake_concurrency) as http:
        await submit(http, bench)  # warm-up
        async with profiled(bench, "intake", sizes.profile):
            pairs = await rate_pairs(
                Cpu(bench),
                lambda _: submit(http, bench),
                start_raw,
                rounds=sizes.pair_rounds,
                per_block=sizes.intake_block,
                concurrency=sizes.intake_concurrency,
            )
    return {"a": "API POST /requests", "b": "raw start_workflow, same input", **pairs}


# ---------------------------------------------------------------------------------------------- 2. approve


async def action_latency(bench: BenchStack, sizes: Sizes) -> Figures:
    """Approve through the API, with `open_requests` requests in review, beside a bare `execute_update` of
    a no-op update on a twin workflow: one click every `action_interval`, pairs interleaved A B B A."""
    template = await template_state(bench, issued=False)
    ids = await seed(bench, template, sizes.open_requests, sizes.seed_concurrency)
    chosen = random.sample(ids, min(sizes.approvals, len(ids)))
    tag = uuid.uuid4().hex[:8]
    async with engine_worker(bench) as twin_worker, bench.http(bench.reviewer_token) as reviewer:
        twins = [
            await bench.temporal.start_workflow(
                Twin.run,
                TwinPlan(updates=1, activities=0, local_activities=0, timers=1),
                id=f"bench-twin-action-{tag}-{n}",
                task_queue=ENGINE_QUEUE,
            )
            for n in range(len(chosen))
        ]

        async def touch(index: int) -> None:
            await twins[index].execute_update(Twin.touch, Ping(number=index))

        async with profiled(bench, "approve", sizes.profile):
            pairs = await latency_pairs(
                Cpu(bench, {"twin_worker": twin_worker}),
                lambda n: approve(reviewer, chosen[n]),
                touch,
                count=len(chosen),
                interval=sizes.action_interval,
            )
    return {
        "open_requests": len(ids) + 1,
        "a": "API POST /requests/{id}/actions/approve",
        "b": "execute_update of a no-op update",
        **pairs,
    }


# ---------------------------------------------------------------------------------------------- 3. lifecycles


async def lifecycles(bench: BenchStack, sizes: Sizes) -> Figures:
    """Whole lifecycles through the API (submit, approve, issue in the OID sandbox, transport document,
    active) beside their twin: a no-op workflow with as many updates, activities, local activities and
    timers as one real lifecycle's history holds. Blocks interleaved A B B A at the same concurrency."""
    outbox = bench.settings.outbox_dir
    async with (
        engine_worker(bench) as twin_worker,
        bench.http(bench.exporter_token, connections=sizes.lifecycle_concurrency) as exporter,
        bench.http(bench.reviewer_token, connections=sizes.lifecycle_concurrency) as reviewer,
    ):

        async def lifecycle(_: int) -> str:
            request_id = await submit(exporter, bench)
            await approve(reviewer, request_id)
            await wait_for_row(bench, request_id, "awaiting_transport_document")
            await deliver_transport_document(exporter, bench, request_id)
            return request_id

        warm = await lifecycle(0)
        await wait_for_row(bench, warm, "active")
        counts = HistoryCounts.of(
            [e async for e in bench.temporal.get_workflow_handle(workflow_id(warm)).fetch_history_events()]
        )
        plan = counts.plan()
        tag = uuid.uuid4().hex[:8]

        async def twin(index: int) -> None:
            handle = await bench.temporal.start_workflow(
                Twin.run, plan, id=f"bench-twin-{tag}-{index}", task_queue=ENGINE_QUEUE
            )
            for update in range(plan.updates):
                await handle.execute_update(Twin.touch, Ping(number=update))
            await handle.result()

        mails_before = len(list(outbox.glob("*.eml")))
        async with profiled(bench, "lifecycles", sizes.profile):
            pairs = await rate_pairs(
                Cpu(bench, {"twin_worker": twin_worker}),
                lifecycle,
                twin,
                rounds=sizes.pair_rounds,
                per_block=sizes.lifecycle_block,
                concurrency=sizes.lifecycle_concurrency,
            )
    await asyncio.sleep(1)  # the last mails of the last requests
    mails = len(list(outbox.glob("*.eml"))) - mails_before
    return {
        "a": "lifecycle through the API",
        "b": "twin workflow, same engine work",
        "history": counts.figures(),
        "twin_plan": plan.model_dump(),
        "mails_per_lifecycle": round(mails / max(pairs["a"]["items"], 1), 2),
        **pairs,
    }


# ---------------------------------------------------------------------------------------------- 4. scale

# The worker's sticky cache as the SDK reports it, and how many workflow tasks replayed a history (only
# the count: the SDK's replay-latency sum read 0 for 20 replays in a trial run, so it times no replay here).
CACHE_METRICS = (
    "temporal_sticky_cache_size",
    "temporal_sticky_cache_hit",
    "temporal_sticky_cache_miss",
    "temporal_sticky_cache_total_forced_eviction",
    "temporal_workflow_task_replay_latency_count",
)


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
    cache_after_seeding = await bench.worker_metrics(*CACHE_METRICS)
    chosen = random.sample(ids, min(sizes.scale_actions, len(ids)))
    async with bench.http(bench.exporter_token) as exporter:
        async with profiled(bench, "scale", sizes.profile):
            run = await paced(
                len(chosen),
                sizes.action_interval,
                lambda n: deliver_transport_document(exporter, bench, chosen[n]),
            )
    await asyncio.sleep(2)
    after_actions = {"worker": rss_mib(worker), "temporal": rss_mib(temporal)}
    cache_after_actions = await bench.worker_metrics(*CACHE_METRICS)
    return {
        "open_requests": len(ids) + 1,
        "worker_max_cached_workflows": bench.settings.worker_max_cached_workflows,
        "worker_workflow_task_slots": bench.settings.worker_workflow_task_slots,
        "seeded_per_s": round(len(ids) / seeded_s, 1),
        "rss_mib_before": {k: round(v, 1) for k, v in before.items()},
        "rss_mib_after": {k: round(v, 1) for k, v in after.items()},
        "rss_mib_after_actions": {k: round(v, 1) for k, v in after_actions.items()},
        "sticky_cache_after_seeding": cache_after_seeding,
        # During the actions only: a miss is a workflow task whose workflow was not cached (history replayed).
        "sticky_cache_during_actions": {
            name: round(cache_after_actions[name] - cache_after_seeding[name], 3)
            for name in CACHE_METRICS
            if name != "temporal_sticky_cache_size"
        },
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
