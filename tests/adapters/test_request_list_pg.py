"""The request list's schema on embedded PostgreSQL: what migrations 0060 and 0061 do to a database already in
use, and the product filter (its texts kept apart by 0061's trigger) against each name matched on its own."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg

from activities.records import RequestSummary
from activities.records_pg import PgRecordsStore
from activities.request_list import PageCursor, RequestFilters, SortKey, list_requests
from core.db import create_pool, discover_migrations, migrate_url
from domain.request import NopicRequestForm
from domain.state import RequestStatus
from tests.support.forms import form, form_data
from tests.support.records import change
from tests.support.request_rows import summary


async def database_before(url: str, tmp_path: Path, version: int) -> asyncpg.Pool:
    """The database at `url` as it stood before migration `version`, and a pool on it."""
    before = tmp_path / "migrations"
    before.mkdir()
    for migration in discover_migrations():
        if migration.version < version:
            shutil.copy(migration.path, before / migration.path.name)
    await migrate_url(url, before)
    return await create_pool(url, max_size=2)


async def test_the_product_text_migration_fills_the_rows_already_written_and_the_list_finds_them(
    empty_database_url: str, tmp_path: Path
) -> None:
    # The database as it stood before migration 0060, with a request recorded by the writer of the time.
    pool = await database_before(empty_database_url, tmp_path, 60)
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


def named(*names: str) -> NopicRequestForm:
    """The sample form with one commodity per name, each from both of its documented suppliers."""
    commodities = form_data()["commodities"]
    suppliers = [s for c in commodities for s in c["suppliers"]]
    return form(commodities=[{**commodities[0], "product_name": n, "suppliers": suppliers} for n in names])


def like_pattern(text: str) -> str:
    """What a person typed as a LIKE pattern of itself, anywhere in a name."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def test_the_product_text_ids_migration_fills_the_rows_already_written_and_follows_corrections(
    empty_database_url: str, tmp_path: Path
) -> None:
    # The database as it stood before migration 0061, with two requests of the same names.
    pool = await database_before(empty_database_url, tmp_path, 61)
    try:
        store = PgRecordsStore(pool)
        await store.record_change(change("old-1", 1, RequestStatus.IN_REVIEW))
        await store.record_change(change("old-2", 1, RequestStatus.IN_REVIEW))

        assert 61 in [m.version for m in await migrate_url(empty_database_url)]
        ids = await pool.fetch("SELECT DISTINCT product_text_id FROM requests")
        texts = await pool.fetch("SELECT text FROM product_texts")
        assert (len(ids), [t["text"] for t in texts]) == (
            1,
            ["organic roasted coffee beans\x1forganic cocoa nibs"],
        )
        found = await list_requests(pool, RequestFilters(product="Cocoa NIBS"))
        assert ([r.request_id for r in found.items], found.total) == (["old-1", "old-2"], 2)

        # A correction renames old-1's product; a change older than the row's, arriving late, renames nothing.
        await store.record_change(change("old-1", 3, RequestStatus.IN_REVIEW, named("Organic Quinoa")))
        await store.record_change(change("old-1", 2, RequestStatus.IN_REVIEW, named("Organic Chia")))
        found = await list_requests(pool, RequestFilters(product="cocoa"))
        assert ([r.request_id for r in found.items], found.total) == (["old-2"], 1)
        found = await list_requests(pool, RequestFilters(product="QUINOA"))
        assert ([r.request_id for r in found.items], found.total) == (["old-1"], 1)
        assert (await list_requests(pool, RequestFilters(product="chia"))).total == 0
    finally:
        await pool.close()


# Names where a shortcut could go wrong: case, partial words, several products per request (in either
# order, one twice), names that share words, LIKE's wildcards, letters beyond ASCII.
NAMES: dict[str, list[str]] = {
    "R01": ["Organic Cocoa Nibs"],
    "R02": ["organic cocoa nibs"],
    "R03": ["ORGANIC COCOA NIBS", "Organic quinoa"],
    "R04": ["Organic quinoa", "ORGANIC COCOA NIBS"],
    "R05": ["Organic cocoa butter", "Organic cocoa butter"],
    "R06": ["Organic coconut sugar", "Organic coffee", "Organic cocoa"],
    "R07": ["Kakao 100%_pure"],
    "R08": ["Café Ñandú GRANOS", "Äpfel"],
    "R09": ["Organic cocoa", "nibs"],
    "R10": ["Quinoa flakes"],
}
PROBES = [
    "cocoa", "COCOA NIBS", "coco", "co", "nibs", "cocoa nibs", "cocoa\x1fnibs", "a nibs", "quinoa", "Organic",
    "100%_", "100%x", "o_g", "o%n", "café", "ÑANDÚ", "äpfel", "sugar", "x", "c",
]  # fmt: skip


async def test_the_product_filter_answers_as_each_name_matched_on_its_own_would(
    db_pool: asyncpg.Pool,
) -> None:
    store = PgRecordsStore(db_pool)
    for n, (request_id, names) in enumerate(NAMES.items()):
        status = RequestStatus.IN_REVIEW if n % 2 else RequestStatus.ACTIVE
        await store.record_change(change(request_id, 1, status, named(*names)))
    # Corrections: R02 loses its cocoa, R10 gains one (by the records writer), R07 renamed by hand.
    await store.record_change(change("R02", 2, RequestStatus.ACTIVE, named("Organic dried mango")))
    await store.record_change(
        change("R10", 2, RequestStatus.IN_REVIEW, named("Quinoa flakes", "Cocoa powder"))
    )
    renamed = "UPDATE requests SET product_names = $1 WHERE request_id = $2"
    await db_pool.execute(renamed, ["Kakao 100%_rein", "Organic Nibs"], "R07")

    async def reference(text: str, statuses: list[RequestStatus]) -> list[str]:
        rows = await db_pool.fetch(
            "SELECT request_id FROM requests WHERE EXISTS "
            "(SELECT 1 FROM unnest(product_names) p WHERE p ILIKE $1) "
            "AND (cardinality($2::text[]) = 0 OR status = ANY($2::text[])) ORDER BY 1",
            like_pattern(text),
            [str(s) for s in statuses],
        )
        return [r["request_id"] for r in rows]

    for text in PROBES:
        for statuses in ([], [RequestStatus.IN_REVIEW]):
            filters = RequestFilters(product=text, statuses=statuses)
            expected = await reference(text, statuses)
            found = await list_requests(db_pool, filters, limit=200)
            assert (sorted(r.request_id for r in found.items), found.total) == (expected, len(expected)), text
            # Page by page, by cursor, newest first: the same rows, each once, the same total on each page.
            seen: list[str] = []
            after: PageCursor | None = None
            while True:
                page = await list_requests(
                    db_pool, filters, sort=SortKey.RECEIVED_AT, descending=True, limit=2, after=after
                )
                assert page.total == len(expected), text
                seen += [r.request_id for r in page.items]
                if page.next_after is None:
                    break
                after = PageCursor.decode(page.next_after, SortKey.RECEIVED_AT, True)
            assert sorted(seen) == expected, text


async def test_two_writers_adding_the_same_new_product_text_at_once_neither_waits_and_both_are_found(
    db_pool: asyncpg.Pool,
) -> None:
    rows = [summary(request_id, product_names=["Organic Yacon Syrup"]) for request_id in ("Y1", "Y2")]
    columns = list(RequestSummary.model_fields)
    statement = (
        f"INSERT INTO requests ({', '.join(columns)}, last_sequence) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 2))})"
    )
    async with db_pool.acquire() as first, db_pool.acquire() as second:
        async with first.transaction(), second.transaction():
            for conn, row in ((first, rows[0]), (second, rows[1])):
                values = [str(v) if c == "status" else v for c, v in row.model_dump().items()]
                # Within a second: the second writer does not wait for the first one's text to commit.
                await asyncio.wait_for(conn.execute(statement, *values, 1), timeout=1)
    texts = await db_pool.fetchval("SELECT count(*) FROM product_texts WHERE text = 'organic yacon syrup'")
    assert texts == 2  # each writer's own: the filter matches both
    found = await list_requests(db_pool, RequestFilters(product="yacon"))
    assert ([r.request_id for r in found.items], found.total) == (["Y1", "Y2"], 2)
