"""The database layer: migrations run once, in order, atomically; each test has a database of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from core.db import (
    MigrationError,
    discover_migrations,
    ensure_database,
    migrate,
    migrate_url,
    with_database,
)


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def applied_versions(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY applied_at, version")
    return [(row["version"], row["name"]) for row in rows]


async def test_migrations_are_applied_once_in_version_order(empty_database_url: str, tmp_path: Path) -> None:
    # Written out of order on purpose: the file system's order must not matter.
    migrations = write_migrations(
        tmp_path / "migrations",
        {
            "0002_add_reviewer.sql": "ALTER TABLE request ADD reviewer text; INSERT INTO steps VALUES (2);",
            "0001_create_request.sql": "CREATE TABLE request (id text PRIMARY KEY);"
            " CREATE TABLE steps (version int); INSERT INTO steps VALUES (1);",
            "0010_index_reviewer.sql": "CREATE INDEX ON request (reviewer); INSERT INTO steps VALUES (10);",
        },
    )
    conn = await asyncpg.connect(empty_database_url)
    try:
        first = await migrate(conn, migrations)
        second = await migrate(conn, migrations)

        assert [m.version for m in first] == [1, 2, 10]
        assert second == []
        assert await applied_versions(conn) == [
            (1, "create_request"),
            (2, "add_reviewer"),
            (10, "index_reviewer"),
        ]
        assert [r["version"] for r in await conn.fetch("SELECT version FROM steps")] == [1, 2, 10]
    finally:
        await conn.close()


async def test_a_failing_migration_rolls_back_and_is_not_recorded(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrations = write_migrations(
        tmp_path / "migrations",
        {
            "0001_create_request.sql": "CREATE TABLE request (id text PRIMARY KEY);",
            "0002_broken.sql": "CREATE TABLE checklist (id int); SELECT no_such_function();",
        },
    )
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate_url(empty_database_url, migrations)

    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await applied_versions(conn) == [(1, "create_request")]
        assert await conn.fetchval("SELECT to_regclass('checklist')") is None

        # Once fixed, the next start applies it.
        (migrations / "0002_broken.sql").write_text("CREATE TABLE checklist (id int);")
        assert [m.version for m in await migrate(conn, migrations)] == [2]
        assert await conn.fetchval("SELECT to_regclass('checklist')") is not None
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    empty_database_url: str, tmp_path: Path
) -> None:
    migrations = write_migrations(
        tmp_path / "migrations",
        {
            f"000{n}_step_{n}.sql": f"CREATE TABLE step_{n} (id int); SELECT pg_sleep(0.05);"
            for n in range(1, 4)
        },
    )
    results = await asyncio.gather(*(migrate_url(empty_database_url, migrations) for _ in range(3)))

    assert sorted(m.version for applied in results for m in applied) == [1, 2, 3]


def test_misnamed_or_duplicate_migration_files_are_refused(tmp_path: Path) -> None:
    misnamed = write_migrations(tmp_path / "misnamed", {"1_create.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"NNNN_lowercase_name\.sql"):
        discover_migrations(misnamed)

    duplicate = write_migrations(
        tmp_path / "duplicate", {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}
    )
    with pytest.raises(MigrationError, match="version 1 is already used"):
        discover_migrations(duplicate)


async def test_each_test_database_has_every_project_migration(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        versions = [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert sorted(versions) == [m.version for m in discover_migrations()]


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_has_a_database_of_its_own(db_pool: asyncpg.Pool, run: int) -> None:
    # Both runs create the same table: the second would fail if the first one's database were shared.
    await db_pool.execute("CREATE TABLE isolation_probe (run int)")
    await db_pool.execute("INSERT INTO isolation_probe VALUES ($1)", run)
    assert await db_pool.fetchval("SELECT array_agg(run) FROM isolation_probe") == [run]


async def test_pool_reads_and_writes_json_as_python_values(db_pool: asyncpg.Pool) -> None:
    payload = {"nopic": "123-1234567890-123456", "kg": 1200.5, "lots": ["L1", "L2"]}
    assert await db_pool.fetchval("SELECT $1::jsonb", payload) == payload


async def test_ensure_database_creates_a_missing_database_once(postgres_server: str) -> None:
    url = with_database(postgres_server, "nopic_ensure_probe")
    await ensure_database(url)
    await ensure_database(url)  # already there: nothing to do
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT current_database()") == "nopic_ensure_probe"
    finally:
        await conn.close()
