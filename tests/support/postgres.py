"""PostgreSQL for the tests: one embedded server per session, and databases cloned from a migrated template.

Cloning a database takes a fraction of a second; migrating one per test would not.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg

from core.db import migrate_url, start_embedded_postgres, with_database
from tests.support.dirs import data_dir_outside_pytest_tmp

TEMPLATE_DATABASE = "nopic_template"


@asynccontextmanager
async def embedded_server() -> AsyncIterator[str]:
    """An embedded PostgreSQL server with the migrated template: the URL of its `postgres` database."""
    directory = data_dir_outside_pytest_tmp("postgres")
    server = await asyncio.to_thread(start_embedded_postgres, directory / "pgdata")
    url = server.get_uri()
    conn = await asyncpg.connect(url)
    try:
        # Throwaway data: durability buys nothing here and costs time on every commit.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await conn.execute(f"ALTER SYSTEM SET {setting} = off")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
    finally:
        await conn.close()
    await migrate_url(with_database(url, TEMPLATE_DATABASE))
    try:
        yield url
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(directory, ignore_errors=True)


async def create_database(server_url: str, template: str = TEMPLATE_DATABASE) -> str:
    """A new database cloned from `template` (`template0`: no schema at all); its URL."""
    name = f"test_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await conn.close()
    return with_database(server_url, name)


@asynccontextmanager
async def fresh_database(server_url: str, template: str = TEMPLATE_DATABASE) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards."""
    url = await create_database(server_url, template)
    try:
        yield url
    finally:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f"DROP DATABASE {urlsplit(url).path.lstrip('/')} WITH (FORCE)")
        finally:
            await conn.close()
