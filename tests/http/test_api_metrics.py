"""The HTTP service's metrics: one series per route template whatever the ids, and workflow actions."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from web.main import create_app
from web.metrics import count_action


async def _samples(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = (await http.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_are_counted_by_route_template_not_raw_path() -> None:
    app = create_app(Settings())

    @app.get("/requests-for-test/{request_id}")
    async def one(request_id: str) -> dict[str, str]:
        return {"id": request_id}

    # No lifespan: these routes need neither PostgreSQL nor Temporal.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nopic") as http:
        before = await _samples(http)
        for request_id in ("R-1", "R-2", "R-3"):
            assert (await http.get(f"/requests-for-test/{request_id}")).status_code == 200
        assert (await http.get("/no/such/page")).status_code == 404
        after = await _samples(http)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    route = "/requests-for-test/{request_id}"
    assert delta("nopic_http_requests_total", method="GET", route=route, status="200") == 3
    assert delta("nopic_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert delta("nopic_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not any("R-1" in str(labels) for _, labels in after)


async def test_workflow_actions_are_counted_by_action_and_outcome() -> None:
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nopic") as http:
        key = ("nopic_workflow_actions_total", (("action", "approve"), ("outcome", "refused")))
        before = (await _samples(http)).get(key, 0)
        count_action("approve", "refused")
        count_action("approve", "refused")
        count_action("approve", "accepted")
        assert (await _samples(http))[key] - before == 2
