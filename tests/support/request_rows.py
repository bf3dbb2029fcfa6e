"""Read-model rows written straight into `requests`, and the HTTP service in-process on that database.

For tests of the request list: they need many rows with chosen values (ties in every sort key), which no
workflow has to produce, and the real API in front of them, which needs no Temporal to list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from activities.records import RequestSummary
from core.settings import Settings
from domain.state import RequestStatus
from tests.support.servers import free_port
from web import auth
from web.auth import NewUser, UserRole
from web.main import create_app

EXPORTER_OPERATION = "1000000001"
OTHER_OPERATION = "1000000002"
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def summary(request_id: str, **values: Any) -> RequestSummary:
    """A row of the read model, with plain values for whatever `values` leaves out."""
    row: dict[str, Any] = {
        "request_id": request_id,
        "status": RequestStatus.IN_REVIEW,
        "exporter_operation_id": EXPORTER_OPERATION,
        "exporter_name": "Biofruits SA",
        "importer_operation_id": "2000000001",
        "importer_name": "Green Imports LLC",
        "etd": date(2026, 3, 20),
        "customs_deadline": BASE,
        "late": False,
        "lead_working_days": 10,
        "commodity_count": 1,
        "product_names": ["Organic dried mango"],
        "received_at": BASE,
        "updated_at": BASE,
    }
    row.update(values)
    row["commodity_count"] = len(row["product_names"])
    return RequestSummary.model_validate(row)


async def insert(pool: asyncpg.Pool, rows: list[RequestSummary]) -> None:
    """The rows as the records writer leaves their columns (the derived ones are the database's own)."""
    columns = list(RequestSummary.model_fields)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 2))
    await pool.executemany(
        f"INSERT INTO requests ({', '.join(columns)}, last_sequence) VALUES ({placeholders})",
        [(*(str(v) if c == "status" else v for c, v in r.model_dump().items()), 1) for r in rows],
    )


@dataclass
class ListApi:
    """The HTTP service on a test's database, called in-process, and a client for each kind of user."""

    pool: asyncpg.Pool
    reviewer: httpx.AsyncClient
    exporter: httpx.AsyncClient


@asynccontextmanager
async def list_api(database_url: str, home: Path) -> AsyncIterator[ListApi]:
    # Temporal is never reached: the app's client connects lazily and listing does not use it.
    settings = Settings(home=home, database_url=database_url, temporal_address=f"127.0.0.1:{free_port()}")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pool: asyncpg.Pool = app.state.db
        reviewer = await auth.create_user(
            pool, NewUser(username="rita", display_name="Rita", role=UserRole.REVIEWER)
        )
        exporter = await auth.create_user(
            pool,
            NewUser(
                username="bea", display_name="Bea", role=UserRole.EXPORTER, operation_id=EXPORTER_OPERATION
            ),
        )
        transport = httpx.ASGITransport(app=app)

        def client(token: str) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {token}"}
            return httpx.AsyncClient(transport=transport, base_url="http://nopic.test", headers=headers)

        async with client(reviewer.token) as as_reviewer, client(exporter.token) as as_exporter:
            yield ListApi(pool=pool, reviewer=as_reviewer, exporter=as_exporter)
