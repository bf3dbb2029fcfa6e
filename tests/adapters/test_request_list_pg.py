"""The request list's schema on embedded PostgreSQL: what migration 0060 does to a database already in use."""

from __future__ import annotations

import shutil
from pathlib import Path

from activities.records_pg import PgRecordsStore
from activities.request_list import RequestFilters, list_requests
from core.db import create_pool, discover_migrations, migrate_url
from domain.state import RequestStatus
from tests.support.records import change


async def test_the_product_text_migration_fills_the_rows_already_written_and_the_list_finds_them(
    empty_database_url: str, tmp_path: Path
) -> None:
    # The database as it stood before migration 0060, with a request recorded by the writer of the time.
    before = tmp_path / "migrations"
    before.mkdir()
    for migration in discover_migrations():
        if migration.version < 60:
            shutil.copy(migration.path, before / migration.path.name)
    await migrate_url(empty_database_url, before)
    pool = await create_pool(empty_database_url, max_size=2)
    try:
        store = PgRecordsStore(pool)
        await store.record_change(change("old-1", 1, RequestStatus.IN_REVIEW))

        assert 60 in [m.version for m in await migrate_url(empty_database_url)]
        text = await pool.fetchval("SELECT product_text FROM requests WHERE request_id = 'old-1'")
        assert text == "organic roasted coffee beans\x1forganic cocoa nibs"
        found = await list_requests(pool, RequestFilters(product="Cocoa NIBS"))
        assert ([r.request_id for r in found.items], found.total) == (["old-1"], 1)

        # The writer's rows from then on, and a change of names, carry their text too.
        await store.record_change(change("new-1", 1, RequestStatus.IN_REVIEW))
        renamed = "UPDATE requests SET product_names = $1 WHERE request_id = $2"
        await pool.execute(renamed, ["Organic Quinoa"], "old-1")
        found = await list_requests(pool, RequestFilters(product="cocoa"))
        assert ([r.request_id for r in found.items], found.total) == (["new-1"], 1)
        assert (await list_requests(pool, RequestFilters(product="QUINOA"))).total == 1
    finally:
        await pool.close()
