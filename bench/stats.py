"""Percentiles and rates, and a bounded-concurrency runner that times each call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..100) of the samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, round(share / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99 and max, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "samples": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


@dataclass
class Run:
    """What `run_concurrently` measured: wall time and each call's latency."""

    wall_seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0


async def run_concurrently(count: int, concurrency: int, call: Callable[[int], Awaitable[object]]) -> Run:
    """Call `call(0..count-1)` with at most `concurrency` in flight; time each call and the whole."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    run = Run(wall_seconds=0.0)

    async def client() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            try:
                await call(index)
            except Exception as exc:  # a failed call is counted and reported, not a crash of the run
                run.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            run.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.wall_seconds = time.perf_counter() - started
    return run


async def paced(count: int, interval: float, call: Callable[[int], Awaitable[object]]) -> Run:
    """One call after the other, starting one every `interval` seconds at most (a person at a keyboard)."""
    run = Run(wall_seconds=0.0)
    begin = time.perf_counter()
    for index in range(count):
        started = time.perf_counter()
        try:
            await call(index)
        except Exception as exc:  # counted and reported
            run.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        else:
            run.latencies.append(time.perf_counter() - started)
        rest = interval - (time.perf_counter() - started)
        if rest > 0:
            await asyncio.sleep(rest)
    run.wall_seconds = time.perf_counter() - begin
    return run
