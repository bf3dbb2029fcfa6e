"""Prometheus metrics of the HTTP service: requests by route, their latency, and workflow actions.

`GET /metrics` serves them in Prometheus' text format. Requests are labelled by the route's template
(`/requests/{request_id}`), never the raw path, so that one series stands for one route whatever the ids;
paths that match no route share the label `unmatched`.

Routes that act on a request's workflow call `count_action(action, outcome)` once per action, e.g.
`count_action("approve", "accepted")` or `count_action("approve", "refused")`.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "nopic_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "nopic_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
WORKFLOW_ACTIONS = Counter(
    "nopic_workflow_actions",
    "Actions on NOPIC request workflows (approve, refuse, withdraw, ...), by action and outcome.",
    ["action", "outcome"],
)

UNMATCHED = "unmatched"

router = APIRouter()


def count_action(action: str, outcome: str) -> None:
    """Count one workflow action, e.g. `count_action("approve", "accepted")`.

    Keep `outcome` to a few fixed words (accepted, refused, invalid, failed): each distinct value is a series.
    """
    WORKFLOW_ACTIONS.labels(action=action, outcome=outcome).inc()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Times and counts every HTTP request; the route label is read after routing has chosen the route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app fails before it starts an answer
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            # The router writes the matched route into the scope it was given, which is this one.
            route: BaseRoute | None = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            HTTP_LATENCY.labels(method=method, route=template).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method=method, route=template, status=str(status)).inc()


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(MetricsMiddleware)
    app.include_router(router)
