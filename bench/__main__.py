"""`python -m bench [--quick] [--only NAME] [--SIZE N]`: run the benchmarks, print a table, write JSON.

Sizes default to issue 7's (1,000 open requests, 10,000 on timers, 100,000 rows); `--quick` shrinks them
for a smoke run. Every size is also read from `NOPIC_BENCH_<SIZE>` (e.g. NOPIC_BENCH_SCALE_OPEN=2000).
The stack's processes take the service's settings from this environment (`--worker-cache N`: the worker's).
The stack's own log lines go to `bench/results/bench-<time>.log`, not to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from bench.machine import load_average, machine, versions
from bench.report import table
from bench.scenarios import BENCHMARKS, QUICK, RESULTS, Sizes
from bench.stack import bench_stack


def parse(argv: list[str]) -> tuple[list[str], Sizes, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a minute or two")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the worker and API into bench/results/"
    )
    parser.add_argument("--keep", action="store_true", help="keep each stack's temporary home")
    parser.add_argument(
        "--worker-cache",
        type=int,
        metavar="N",
        help="the worker's sticky cache size (NOPIC_WORKER_MAX_CACHED_WORKFLOWS); default: the setting's",
    )
    base = QUICK if "--quick" in argv else Sizes()
    for field in dataclasses.fields(Sizes):
        if field.name == "profile":
            continue
        kind = float if field.type in ("float", float) else int
        default = kind(os.environ.get(f"NOPIC_BENCH_{field.name.upper()}", getattr(base, field.name)))
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=default)
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Sizes) if f.name != "profile"}
    sizes = Sizes(**values, profile=args.profile)
    if args.worker_cache is not None:
        # A setting, not a size: the stack's children inherit this process's environment.
        os.environ["NOPIC_WORKER_MAX_CACHED_WORKFLOWS"] = str(args.worker_cache)
    return args.only or list(BENCHMARKS), sizes, args.keep


async def run(names: list[str], sizes: Sizes, keep: bool, out: Console, path: Path) -> dict[str, Any]:
    """Run the benchmarks one after the other; the report is rewritten after each, so none is lost."""
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "sizes": dataclasses.asdict(sizes),
        "load_before": load_average(),
        "benchmarks": {},
    }
    for name in names:
        out.print(f"[bold]{name}[/] … (load {load_average()})")
        began, load_before = time.perf_counter(), load_average()
        try:
            async with bench_stack(keep=keep) as bench:
                figures = await BENCHMARKS[name](bench, sizes)
        except Exception as exc:  # one failed benchmark is reported; the others still run
            figures = {"failed": f"{type(exc).__name__}: {exc}"}
            out.print(f"[red]{name} failed:[/] {figures['failed']}")
        report["benchmarks"][name] = {
            **figures,
            "load_before": load_before,
            "load_after": load_average(),
            "seconds": round(time.perf_counter() - began, 1),
        }
        _write(path, report)
    report["load_after"] = load_average()
    _write(path, report)
    return report


def _write(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def _terminal() -> TextIO:
    """This process's terminal, kept aside; fds 1 and 2 then go to the log file the children inherit."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log = open(RESULTS / f"bench-{stamp}.log", "ab")
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    return terminal


def main(argv: list[str]) -> int:
    names, sizes, keep = parse(argv)
    out = Console(file=_terminal(), width=150)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"bench-{stamp}{'-quick' if '--quick' in argv else ''}.json"
    report = asyncio.run(run(names, sizes, keep, out, path))
    out.print(table(report))
    out.print(f"machine {report['machine']}, load {report['load_before']} → {report['load_after']}")
    out.print(f"written to {path}")
    return 0 if all("failed" not in b for b in report["benchmarks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
