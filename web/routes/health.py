"""`GET /health`: whether the service's two dependencies, Temporal and PostgreSQL, answer right now.

For orchestrators: `GET /health/live` answers 200 while the process serves at all (restart it if not);
`GET /health/ready` is `/health` under the name probes expect (send it traffic only while 200).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import Client

from core.logging import get_logger

router = APIRouter()
log = get_logger(__name__)

# Short, so that a dead dependency makes /health answer "down" quickly instead of hanging the probe.
_CHECK_TIMEOUT = timedelta(seconds=2)

Status = Literal["up", "down"]


class Health(BaseModel):
    temporal: Status
    postgres: Status


async def _temporal(client: Client) -> Status:
    try:
        await client.service_client.check_health(timeout=_CHECK_TIMEOUT)
    except Exception as exc:  # any failure to answer means down; the reason goes to the log
        log.warning("temporal health check failed", error=str(exc))
        return "down"
    return "up"


async def _postgres(pool: asyncpg.Pool) -> Status:
    timeout = _CHECK_TIMEOUT.total_seconds()
    try:
        async with asyncio.timeout(timeout), pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    except Exception as exc:
        log.warning("postgres health check failed", error=str(exc))
        return "down"
    return "up"


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Temporal or PostgreSQL does not answer."}},
)
async def health(request: Request) -> JSONResponse:
    temporal, postgres = await asyncio.gather(
        _temporal(request.app.state.temporal), _postgres(request.app.state.db)
    )
    body = Health(temporal=temporal, postgres=postgres)
    status = 200 if temporal == postgres == "up" else 503
    return JSONResponse(body.model_dump(), status_code=status)


class Liveness(BaseModel):
    status: Literal["live"] = "live"


@router.get("/health/live", response_model=Liveness)
async def live() -> Liveness:
    return Liveness()


@router.get(
    "/health/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "Temporal or PostgreSQL does not answer."}},
)
async def ready(request: Request) -> JSONResponse:
    return await health(request)
