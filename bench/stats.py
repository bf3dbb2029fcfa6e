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


@dataclass
class Pairs:
    """What `interleaved` measured: the seconds of A and of B, pair by pair, and each pair's call index."""

    index: list[int] = field(default_factory=list)
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def interleaved(
    count: int, a: Callable[[int], Awaitable[object]], b: Callable[[int], Awaitable[object]]
) -> Pairs:
    """`count` pairs of calls, one after the other, in the order A B, B A, A B, ... (A B B A A B ...): neither
    always runs first, so warm caches and the machine's other load of that moment favour neither."""
    pairs = Pairs()
    for index in range(count):
        first, second = ((a, pairs.a), (b, pairs.b)) if index % 2 == 0 else ((b, pairs.b), (a, pairs.a))
        try:
            seconds = [await _timed(call, index) for call, _ in (first, second)]
        except Exception as exc:  # the pair is dropped, counted and reported
            pairs.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        pairs.index.append(index)
        first[1].append(seconds[0])
        second[1].append(seconds[1])
    return pairs


async def _timed(call: Callable[[int], Awaitable[object]], index: int) -> float:
    started = time.perf_counter()
    await call(index)
    return time.perf_counter() - started


def ratio_summary(numerators: list[float], denominators: list[float]) -> dict[str, float]:
    """The median of the pairwise ratios and their spread: the quartiles and the inter-quartile range."""
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]
    low, median, high = (percentile(ratios, share) for share in (25, 50, 75))
    return {
        "pairs": len(ratios),
        "median": round(median, 2),
        "p25": round(low, 2),
        "p75": round(high, 2),
        "iqr": round(high - low, 2),
    }
