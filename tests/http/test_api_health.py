"""The HTTP service's skeleton: `/health` against real Temporal and PostgreSQL, and the one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support.servers import free_port
from web.errors import ApiError, FieldError
from web.main import create_app


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, as uvicorn would, and a client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://nopic.test") as client:
            yield client


def settings_for(tmp_path: Path, temporal_address: str, database_url: str) -> Settings:
    return Settings(home=tmp_path, temporal_address=temporal_address, database_url=database_url)


async def test_health_reports_both_up(
    dev_server_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    target = dev_server_env.client.service_client.config.target_host
    async with serve(create_app(settings_for(tmp_path, target, database_url))) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"temporal": "up", "postgres": "up"}


async def test_health_reports_temporal_down_when_it_does_not_answer(
    database_url: str, tmp_path: Path
) -> None:
    nobody_listens = f"127.0.0.1:{free_port()}"
    async with serve(create_app(settings_for(tmp_path, nobody_listens, database_url))) as http:
        response = await http.get("/health")

    assert response.status_code == 503
    assert response.json() == {"temporal": "down", "postgres": "up"}


async def test_health_reports_postgres_down_when_the_database_is_gone(
    dev_server_env: WorkflowEnvironment, postgres_server: str, tmp_path: Path
) -> None:
    target = dev_server_env.client.service_client.config.target_host
    missing = postgres_server.replace("/postgres?", "/no_such_database?")
    async with serve(create_app(settings_for(tmp_path, target, missing))) as http:
        response = await http.get("/health")

    assert response.status_code == 503
    assert response.json() == {"temporal": "up", "postgres": "down"}


async def test_every_error_has_the_same_shape(database_url: str, tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, f"127.0.0.1:{free_port()}", database_url))

    @app.get("/probe/{count}")
    async def probe(count: int) -> dict[str, int]:
        if count == 0:
            raise ApiError(
                409,
                "already_issued",
                "The NOPIC is already issued.",
                [FieldError(field="count", rule="not_zero", message="must not be zero")],
            )
        if count == 1:
            raise RuntimeError("a bug")
        return {"count": count}

    async with serve(app) as http:
        not_found = await http.get("/no/such/page")
        invalid = await http.get("/probe/many")
        refused = await http.get("/probe/0")
        crashed = await http.get("/probe/1")

    assert not_found.status_code == 404
    assert not_found.json() == {"error": {"code": "not_found", "message": "Not Found", "fields": []}}

    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "invalid_request"
    assert [(f["field"], f["rule"]) for f in error["fields"]] == [("path.count", "int_parsing")]
    assert "path.count" in error["message"]

    assert refused.status_code == 409
    assert refused.json() == {
        "error": {
            "code": "already_issued",
            "message": "The NOPIC is already issued.",
            "fields": [{"field": "count", "rule": "not_zero", "message": "must not be zero"}],
        }
    }

    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
