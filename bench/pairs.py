"""The service beside its engine twin: the same work measured two ways, interleaved, on the same stack.

Each benchmark that compares runs side A (through the service) and side B (its twin: the bare engine call,
or `bench.engine.Twin`) in turn, A B B A A B ..., so neither side always runs first or alone in a quiet
moment. Blocks of `per_block` items at the same concurrency give rates; single calls give latencies. Every
block also measures the CPU each process of the stack used, and the machine's load from outside the stack
(all busy CPU, from /proc/stat, less the stack's and this process's): a pair of sides whose outside load
differed by more than 20% (and by more than a tenth of a core) is refused, its ratio not reported.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.machine import cpu_seconds
from bench.stack import BenchStack
from bench.stats import percentile, ratio_summary, run_concurrently

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OUTSIDE_DIFFERENCE = 0.2  # share of the larger outside load
OUTSIDE_FLOOR = 0.1  # cores: below this, two outside loads count as the same (a quiet machine's noise)


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


class Cpu:
    """CPU seconds used by each process of the stack (and `extra` ones) between `start()` and `stop()`."""

    def __init__(self, bench: BenchStack, extra: dict[str, int] | None = None) -> None:
        self._pids = {name: [bench.pid(name)] for name in ("worker", "api", "temporal", "oid_sandbox")}
        self._pids.update({name: [pid] for name, pid in (extra or {}).items()})
        self._pids["bench"] = [os.getpid()]
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
            name: round(sum(after[p] - self._before[p] for p in pids if p in after and p in self._before), 3)
            for name, pids in self._pids.items()
        }


@dataclass
class Side:
    """What one side measured over its blocks or calls."""

    seconds: list[float] = field(default_factory=list)  # per block (wall) or per call (latency)
    items: list[int] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    outside: list[float] = field(default_factory=list)  # cores busy outside the stack, per block or call
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # each call's, in blocks

    def add(self, seconds: float, items: int, cpu: dict[str, float], outside_cpu: float) -> None:
        self.seconds.append(seconds)
        self.items.append(items)
        for name, used in cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + used
        self.outside.append(outside_cpu / seconds if seconds > 0 else 0.0)

    @property
    def rates(self) -> list[float]:
        return [n / s for n, s in zip(self.items, self.seconds, strict=True) if s > 0]

    def figures(self, *, latency: bool) -> dict[str, Any]:
        done = sum(self.items)
        figures: dict[str, Any] = {
            "items": done,
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "cpu_ms_per_item": {k: round(v * 1000 / max(done, 1), 1) for k, v in self.cpu.items()},
            "outside_load_cores": round(sum(self.outside) / max(len(self.outside), 1), 2),
        }
        ms = [s * 1000 for s in (self.seconds if latency else self.latencies)]
        figures.update({f"p{p}_ms": round(percentile(ms, p), 1) for p in (50, 95, 99)})
        if not latency:
            figures["per_s"] = round(percentile(self.rates, 50), 2)
        return figures


class Measured:
    """One block or call: its wall time, each process's CPU, and the CPU busy outside the stack."""

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu

    async def run(self, work: Callable[[], Awaitable[int]]) -> tuple[float, int, dict[str, float], float]:
        self._cpu.start()
        busy, began = machine_busy_seconds(), time.perf_counter()
        items = await work()
        seconds = time.perf_counter() - began
        used = self._cpu.stop()
        outside = max(machine_busy_seconds() - busy - sum(used.values()), 0.0)
        return seconds, items, used, outside


def verdict(a: Side, b: Side, numerators: list[float], denominators: list[float]) -> dict[str, Any]:
    """The ratio of the pairs, or why it is refused: the two sides' outside loads differed too much."""
    out_a = sum(a.outside) / max(len(a.outside), 1)
    out_b = sum(b.outside) / max(len(b.outside), 1)
    difference = abs(out_a - out_b)
    if difference > OUTSIDE_FLOOR and difference > OUTSIDE_DIFFERENCE * max(out_a, out_b):
        return {"refused": f"outside load differed: {out_a:.2f} vs {out_b:.2f} cores"}
    return {"ratio": ratio_summary(numerators, denominators)}


async def rate_pairs(
    cpu: Cpu,
    a: Callable[[int], Awaitable[object]],
    b: Callable[[int], Awaitable[object]],
    *,
    rounds: int,
    per_block: int,
    concurrency: int,
) -> dict[str, Any]:
    """`rounds` pairs of blocks, A B then B A, each of `per_block` calls at `concurrency`: rates, and the
    median ratio rate(A)/rate(B) over the pairs."""
    sides = {"a": Side(), "b": Side()}
    calls = {"a": a, "b": b}
    measured = Measured(cpu)
    counter = 0

    def block(name: str) -> Callable[[], Awaitable[int]]:
        async def work() -> int:
            nonlocal counter
            start, counter = counter, counter + per_block
            run = await run_concurrently(per_block, concurrency, lambda n: calls[name](start + n))
            sides[name].errors += run.errors
            sides[name].latencies += run.latencies
            return len(run.latencies)

        return work

    for index in range(rounds):
        for name in ("a", "b") if index % 2 == 0 else ("b", "a"):
            sides[name].add(*await measured.run(block(name)))
    return {
        "rounds": rounds,
        "per_block": per_block,
        "concurrency": concurrency,
        "a": sides["a"].figures(latency=False),
        "b": sides["b"].figures(latency=False),
        **verdict(sides["a"], sides["b"], sides["a"].rates, sides["b"].rates),
    }


async def latency_pairs(
    cpu: Cpu,
    a: Callable[[int], Awaitable[object]],
    b: Callable[[int], Awaitable[object]],
    *,
    count: int,
    interval: float,
) -> dict[str, Any]:
    """`count` pairs of single calls, A B then B A, one call every `interval` seconds at most (a person at
    a keyboard): latencies, and the median ratio latency(A)/latency(B) over the pairs."""
    sides = {"a": Side(), "b": Side()}
    calls = {"a": a, "b": b}
    measured = Measured(cpu)
    paired: dict[str, list[float]] = {"a": [], "b": []}
    for index in range(count):
        order = ("a", "b") if index % 2 == 0 else ("b", "a")
        took: dict[str, float] = {}
        for name in order:

            async def one(name: str = name, index: int = index) -> int:
                await calls[name](index)
                return 1

            started = time.perf_counter()
            try:
                seconds, items, used, outside = await measured.run(one)
            except Exception as exc:  # counted and reported; the pair is dropped
                sides[name].errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                sides[name].add(seconds, items, used, outside)
                took[name] = seconds
            rest = interval - (time.perf_counter() - started)
            if rest > 0:
                await asyncio.sleep(rest)
        if len(took) == 2:
            for name in ("a", "b"):
                paired[name].append(took[name])
    return {
        "count": count,
        "interval_s": interval,
        "a": sides["a"].figures(latency=True),
        "b": sides["b"].figures(latency=True),
        **verdict(sides["a"], sides["b"], paired["a"], paired["b"]),
    }
