"""Collecting stored files no request refers to: uploads for a form that was then refused, a duplicate sent
by mistake, a file stored through `POST /documents` and never named in an action.

A file is collected when no request refers to it (`document_references`, written from every recorded
change), it is no closed request's sealed PDF (`certificate_pdfs`), and nobody stored or uploaded it during
the grace period. Each file is removed under its row's lock, the lock an upload keeping the same content
takes (`DocumentStore`): the file is first moved aside, its row deleted, and only once that is committed is
the file unlinked, so a row never names a missing file. Files half written by an interrupted upload are
removed from the incoming folder once as old as the grace period.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

import asyncpg
from pydantic import AwareDatetime, BaseModel
from temporalio import activity

from activities.documents import DocumentStore
from core.logging import get_logger

log = get_logger(__name__)

BATCH = 500

_UNREFERENCED = """
NOT EXISTS (SELECT 1 FROM document_references r WHERE r.sha256 = d.sha256)
AND NOT EXISTS (SELECT 1 FROM certificate_pdfs p WHERE p.sha256 = d.sha256)
AND d.stored_at < $1
AND NOT EXISTS (SELECT 1 FROM document_uploads u WHERE u.sha256 = d.sha256 AND u.uploaded_at >= $1)
"""


class CollectInput(BaseModel):
    older_than: AwareDatetime


class Collected(BaseModel):
    removed: list[str]
    interrupted_uploads: int


class DocumentCollector:
    def __init__(self, pool: asyncpg.Pool, store: DocumentStore) -> None:
        self._pool = pool
        self._store = store

    @activity.defn
    async def collect_unreferenced_documents(self, input: CollectInput) -> Collected:
        removed: list[str] = []
        while True:
            async with self._pool.acquire() as conn:
                candidates = await conn.fetch(
                    f"SELECT sha256 FROM documents d WHERE {_UNREFERENCED} ORDER BY sha256 LIMIT {BATCH}",
                    input.older_than,
                )
            batch = [sha256 for (sha256,) in candidates if await self._remove(sha256, input.older_than)]
            removed += batch
            activity.heartbeat(len(removed))
            if len(candidates) < BATCH:
                break
        interrupted = await asyncio.to_thread(_remove_stale, self._store.incoming, input.older_than)
        log.info("documents.collected", removed=len(removed), interrupted_uploads=interrupted)
        return Collected(removed=removed, interrupted_uploads=interrupted)

    async def _remove(self, sha256: str, older_than: datetime) -> bool:
        path = self._store.path_of(sha256)
        aside = self._store.incoming / f"collected-{sha256}"
        moved = False
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                locked = await conn.fetchval(
                    "SELECT sha256 FROM documents WHERE sha256 = $1 FOR UPDATE", sha256
                )
                # Asked again under the lock: an upload or a reference may have come meanwhile.
                still = await conn.fetchval(
                    f"SELECT true FROM documents d WHERE d.sha256 = $2 AND {_UNREFERENCED}",
                    older_than,
                    sha256,
                )
                if locked is None or not still:
                    return False
                moved = await asyncio.to_thread(_move_aside, path, aside)
                await conn.execute("DELETE FROM documents WHERE sha256 = $1", sha256)
        except BaseException:
            if moved:
                await asyncio.to_thread(os.replace, aside, path)  # the row stays: so does its file
            raise
        await asyncio.to_thread(aside.unlink, missing_ok=True)
        log.info("document.collected", sha256=sha256)
        return True


def _move_aside(path: Path, aside: Path) -> bool:
    aside.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return False  # the file was already gone: only the row is left to remove
    return True


def _remove_stale(incoming: Path, older_than: datetime) -> int:
    """Files of uploads that never finished (a crash mid-upload), once older than the grace period."""
    if not incoming.is_dir():
        return 0
    limit = older_than.timestamp()
    removed = 0
    for path in incoming.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
