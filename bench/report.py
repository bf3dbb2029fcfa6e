"""The table `make bench` prints: one line per headline figure, its goal, and whether it is met."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

Row = tuple[str, str, str, str, bool | None]


def _engine(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    return [
        ("engine", "trivial workflow starts/s", f"{b['starts']['per_s']}", "baseline", None),
        ("engine", "trivial workflows completed/s", f"{b['completed_per_s']}", "baseline", None),
    ]


def _intake(b: dict[str, Any], engine: dict[str, Any]) -> list[Row]:
    ratio = b["api_over_raw_start"]
    rows: list[Row] = [
        ("intake", f"API submissions/s (concurrency {b['concurrency']})", f"{b['api']['per_s']}", "", None),
        ("intake", "raw start_workflow/s, same workflow", f"{b['raw_start']['per_s']}", "", None),
        ("intake", "API / raw start", f"{ratio:.0%}", ">= 90%", ratio >= 0.9),
        (
            "intake",
            "API / client.submit (same wait, no HTTP)",
            f"{b['api_over_client_submit']:.0%}",
            "",
            None,
        ),
        ("intake", "API submit p50 / p99 ms", f"{b['api']['p50_ms']} / {b['api']['p99_ms']}", "", None),
    ]
    if engine.get("completed_per_s"):
        share = b["api"]["per_s"] / engine["completed_per_s"]
        rows.append(("intake", "API submissions / engine completions", f"{share:.0%}", "", None))
    return rows


def _approve(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    figure = f"{b['p50_ms']} / {b['p95_ms']} / {b['p99_ms']}"
    met = b["p99_ms"] < 100 and not b["errors"]
    return [("approve", f"p50/p95/p99 ms, {b['open_requests']} open", figure, "p99 < 100", met)]


def _lifecycles(b: dict[str, Any], engine: dict[str, Any]) -> list[Row]:
    cpu = b["cpu_ms_per_lifecycle"]
    rows: list[Row] = [
        (
            "lifecycles",
            f"completed/s (concurrency {b['concurrency']})",
            f"{b['per_s']}",
            ">= 20",
            b["per_s"] >= 20,
        ),
        (
            "lifecycles",
            "CPU ms each: worker/api/temporal/pg",
            f"{cpu['worker']:.0f}/{cpu['api']:.0f}/{cpu['temporal']:.0f}/{cpu['postgres']:.0f}",
            "",
            None,
        ),
    ]
    if engine.get("completed_per_s"):
        share = b["per_s"] / engine["completed_per_s"]
        rows.append(("lifecycles", "lifecycles / engine completions", f"{share:.0%}", "", None))
    return rows


def _scale(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    figure = f"{b['p50_ms']} / {b['p95_ms']} / {b['p99_ms']}"
    return [
        (
            "scale",
            f"worker RSS MiB, {b['open_requests']} on timers",
            f"{b['rss_mib_after']['worker']}",
            "",
            None,
        ),
        ("scale", "worker growth KiB per open request", f"{b['worker_kib_per_open_request']}", "", None),
        (
            "scale",
            "transport-document p50/p95/p99 ms",
            figure,
            "p99 < 100",
            b["p99_ms"] < 100 and not b["errors"],
        ),
    ]


def _dashboard(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    figure = f"{b['p50_ms']} / {b['p95_ms']} / {b['p99_ms']}"
    return [
        (
            "dashboard",
            f"GET /requests p50/p95/p99 ms, {b['rows']:,} rows",
            figure,
            "p95 < 50",
            b["p95_ms"] < 50,
        )
    ]


_ROWS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[Row]]] = {
    "engine": _engine,
    "intake": _intake,
    "approve": _approve,
    "lifecycles": _lifecycles,
    "scale": _scale,
    "dashboard": _dashboard,
}


def table(report: dict[str, Any]) -> Table:
    results: dict[str, dict[str, Any]] = report["benchmarks"]
    engine = results.get("engine", {})
    out = Table(title="nopic benchmarks", title_justify="left", header_style="bold")
    for column in ("benchmark", "figure", "measured", "goal", "met", "load before→after"):
        out.add_column(column)
    for name, figures in results.items():
        load = f"{figures['load_before'][0]}→{figures['load_after'][0]}"
        if "failed" in figures:
            out.add_row(name, "FAILED", figures["failed"][:80], "", "", load)
            continue
        for bench, figure, measured, goal, met in _ROWS[name](figures, engine):
            mark = "" if met is None else ("yes" if met else "NO")
            out.add_row(bench, figure, measured, goal, mark, load)
            load = ""
        errors = figures.get("errors") or figures.get("api", {}).get("errors")
        if errors:
            out.add_row(name, "errors", str(errors), "0", "NO", "")
    return out
