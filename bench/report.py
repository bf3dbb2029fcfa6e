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


def _ratio(b: dict[str, Any], as_share: bool = False) -> tuple[str, float | None]:
    """The pairs' median ratio A/B and its inter-quartile range, or why it was refused."""
    if "refused" in b:
        return f"refused: {b['refused']}", None
    r = b["ratio"]
    if as_share:
        return f"{r['median']:.0%} ({r['p25']:.0%}–{r['p75']:.0%})", r["median"]
    return f"{r['median']} ({r['p25']}–{r['p75']})", r["median"]


def _cpu(cpu: dict[str, float], names: tuple[str, ...]) -> str:
    return "/".join(f"{cpu.get(name, 0):.0f}" for name in names)


_STACK = ("worker", "api", "temporal", "postgres")


def _intake(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    api, raw = b["a"], b["b"]
    share, ratio = _ratio(b, as_share=True)
    cpu = api["cpu_ms_per_item"]
    return [
        ("intake", f"API submissions/s (concurrency {b['concurrency']})", f"{api['per_s']}", "", None),
        ("intake", "raw start_workflow/s, same input (twin)", f"{raw['per_s']}", "", None),
        (
            "intake",
            "API / raw start, median of pairs (IQR)",
            share,
            ">= 90%",
            None if ratio is None else ratio >= 0.9,
        ),
        (
            "intake",
            "API p50 / p99 ms",
            f"{api['p50_ms']} / {api['p99_ms']}",
            "p99 < 150",
            api["p99_ms"] < 150,
        ),
        ("intake", "CPU ms each: worker/api/temporal/pg", _cpu(cpu, _STACK), "", None),
    ]


def _approve(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    api, twin = b["a"], b["b"]
    ratio, _median = _ratio(b)
    figure = f"{api['p50_ms']} / {api['p95_ms']} / {api['p99_ms']}"
    met = api["p99_ms"] < 100 and not api["errors"]
    return [
        ("approve", f"p50/p95/p99 ms, {b['open_requests']} open", figure, "p99 < 100", met),
        ("approve", "no-op update p50/p99 ms (twin)", f"{twin['p50_ms']} / {twin['p99_ms']}", "", None),
        ("approve", "API / twin latency, median of pairs (IQR)", ratio, "", None),
    ]


def _lifecycles(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    api, twin = b["a"], b["b"]
    ratio, _median = _ratio(b, as_share=True)
    cpu = api["cpu_ms_per_item"]
    total = sum(cpu.get(name, 0) for name in (*_STACK, "oid_sandbox"))
    history = b["history"]
    return [
        (
            "lifecycles",
            f"completed/s (concurrency {b['concurrency']})",
            f"{api['per_s']}",
            ">= 8",
            api["per_s"] >= 8,
        ),
        ("lifecycles", "twin workflows completed/s", f"{twin['per_s']}", "", None),
        ("lifecycles", "lifecycles / twins, median of pairs (IQR)", ratio, "", None),
        ("lifecycles", "CPU ms each: worker/api/temporal/pg", _cpu(cpu, _STACK), "", None),
        ("lifecycles", "CPU ms per lifecycle, all processes", f"{total:.0f}", "<= 180", total <= 180),
        (
            "lifecycles",
            "history: events / workflow tasks / activities / local",
            f"{history['events']} / {history['workflow_tasks']} / {sum(history['activities'].values())}"
            f" / {sum(history['local_activities'].values())}",
            "",
            None,
        ),
    ]


def _scale(b: dict[str, Any], _: dict[str, Any]) -> list[Row]:
    figure = f"{b['p50_ms']} / {b['p95_ms']} / {b['p99_ms']}"
    during = b["sticky_cache_during_actions"]
    return [
        (
            "scale",
            f"worker RSS MiB, {b['open_requests']} on timers, cache {b['worker_max_cached_workflows']}",
            f"{b['rss_mib_after']['worker']} (after the actions {b['rss_mib_after_actions']['worker']})",
            "≤ 350",
            b["rss_mib_after"]["worker"] <= 350,
        ),
        ("scale", "worker growth KiB per open request", f"{b['worker_kib_per_open_request']}", "", None),
        (
            "scale",
            "workflow tasks of the actions: cache hits / misses",
            f"{during['temporal_sticky_cache_hit']:.0f} / {during['temporal_sticky_cache_miss']:.0f}",
            "",
            None,
        ),
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
        errors = figures.get("errors") or figures.get("a", {}).get("errors")
        if errors:
            out.add_row(name, "errors", str(errors), "0", "NO", "")
    return out
