"""The document store: supporting documents kept content-addressed (sha256), metadata in PostgreSQL.

Only PDF, PNG and JPEG are accepted, recognised by their first bytes, never by their name. The name the
uploader gave is kept as metadata for people to read; the path on disk is derived from the content only.
Who uploaded each file, and when last, is kept too (`document_uploads`). A file is written whole beside its
final place (`incoming`), then renamed into it: a reader never sees half a file, and a failed write (a full
disk) leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Literal

import asyncpg
from pydantic import AwareDatetime, BaseModel

from core.files import write_atomically
from core.logging import get_logger
from core.settings import Settings

log = get_logger(__name__)

MediaType = Literal["application/pdf", "image/png", "image/jpeg"]

# Signatures from the formats' specifications: PDF header, PNG signature, JPEG SOI marker + next marker.
_SIGNATURES: tuple[tuple[bytes, MediaType], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_NAME = 255


class DocumentRejected(ValueError):
    """The upload breaks a rule; the message names the field and the rule."""


class StoredDocument(BaseModel):
    sha256: str
    media_type: MediaType
    size_bytes: int
    original_name: str
    stored_at: AwareDatetime


def sniff_media_type(content: bytes) -> MediaType | None:
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None


class DocumentMissing(LookupError):
    """The document is known but its file is gone from the store (a lost disk, a bad restore)."""

    def __init__(self, document: StoredDocument) -> None:
        super().__init__(
            f"the file of document {document.original_name!r} (sha256 {document.sha256}) is missing from "
            "the document store"
        )
        self.document = document


class DocumentStore:
    """Files content-addressed under `directory`, their rows in `documents`, who uploaded them in
    `document_uploads`. A file is moved into place under its row's lock, so the collector
    (`activities.collector`) never removes one that an upload is keeping at that moment."""

    def __init__(self, pool: asyncpg.Pool, directory: Path, max_bytes: int) -> None:
        self._pool = pool
        self._directory = directory
        self._max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool) -> DocumentStore:
        return cls(pool, settings.documents_dir, settings.max_upload_bytes)

    @property
    def incoming(self) -> Path:
        """Where uploads are written as they arrive: the store's file system, so keeping one is a rename."""
        return self._directory / ".incoming"

    async def store(
        self, content: bytes, original_name: str, uploaded_by: str | None = None
    ) -> StoredDocument:
        """Keep the file and its metadata; the same content stored again returns the first record."""
        media_type = self._check(content[:16], len(content), original_name)
        path = self.incoming / f"store-{secrets.token_hex(16)}"
        await asyncio.to_thread(write_atomically, path, content)
        digest = hashlib.sha256(content).hexdigest()
        return await self._keep(path, digest, media_type, len(content), original_name, uploaded_by)

    async def adopt(
        self, path: Path, sha256: str, size: int, head: bytes, original_name: str, uploaded_by: str | None
    ) -> StoredDocument:
        """Keep a file already written whole at `path` (under `incoming`), whose hash and size are known."""
        media_type = self._check(head, size, original_name)
        return await self._keep(path, sha256, media_type, size, original_name, uploaded_by)

    async def _keep(
        self,
        path: Path,
        sha256: str,
        media_type: MediaType,
        size: int,
        original_name: str,
        uploaded_by: str | None,
    ) -> StoredDocument:
        final = self.path_of(sha256)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                # The row first, locked until commit: the collector takes the same lock before removing.
                await conn.execute(
                    "INSERT INTO documents (sha256, media_type, size_bytes, original_name) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256",
                    sha256,
                    media_type,
                    size,
                    original_name.strip(),
                )
                await asyncio.to_thread(_move_into_place, path, final)
                if uploaded_by is not None:
                    await conn.execute(
                        "INSERT INTO document_uploads (sha256, uploaded_by) VALUES ($1, $2) "
                        "ON CONFLICT (sha256, uploaded_by) DO UPDATE SET uploaded_at = now()",
                        sha256,
                        uploaded_by,
                    )
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        document = await self.get(sha256)
        assert document is not None  # just written, under lock
        log.info("document.stored", sha256=sha256, media_type=media_type, size_bytes=size, by=uploaded_by)
        return document

    async def get(self, sha256: str) -> StoredDocument | None:
        if not _SHA256.match(sha256):
            return None
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT sha256, media_type, size_bytes, original_name, stored_at "
                "FROM documents WHERE sha256 = $1",
                sha256,
            )
        return StoredDocument.model_validate(dict(row)) if row else None

    async def grant(
        self, sha256: str, operation_id: str | None, uploaded_by: int | None, by_reviewer: bool
    ) -> None:
        """The requests of `operation_id` may refer to the file and its exporters read it (none: the
        certifier's own file, for reviewers only)."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO document_access (sha256, operation_id, uploaded_by, by_reviewer) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                sha256,
                operation_id,
                uploaded_by,
                by_reviewer,
            )

    async def access(self, sha256s: list[str]) -> dict[str, list[tuple[str | None, bool]]]:
        """For each file: the (operation, uploaded by a reviewer) it was granted to; no entry: none at all."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT sha256, operation_id, by_reviewer FROM document_access "
                "WHERE sha256 = ANY($1::text[])",
                sha256s,
            )
        grants: dict[str, list[tuple[str | None, bool]]] = {}
        for row in rows:
            grants.setdefault(row["sha256"], []).append((row["operation_id"], row["by_reviewer"]))
        return grants

    async def read(self, sha256: str) -> bytes:
        """The file's content; `KeyError` for an unknown document, `DocumentMissing` when its file is gone."""
        document = await self.get(sha256)
        if document is None:
            raise KeyError(f"no document with sha256 {sha256}")
        try:
            return await asyncio.to_thread(self.path_of(sha256).read_bytes)
        except FileNotFoundError:
            log.error("document.file_missing", sha256=sha256, path=str(self.path_of(sha256)))
            raise DocumentMissing(document) from None

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"sha256: must be 64 lowercase hexadecimal characters, got {sha256!r}")
        # Two levels of fan-out keep directories small.
        return self._directory / sha256[:2] / sha256[2:4] / sha256

    def _check(self, head: bytes, size: int, original_name: str) -> MediaType:
        if size == 0:
            raise DocumentRejected("file: is empty")
        if size > self._max_bytes:
            raise DocumentRejected(f"file: is {size} bytes, more than the limit of {self._max_bytes} bytes")
        name = original_name.strip()
        if not name or len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
            raise DocumentRejected(
                f"file name: must be 1 to {_MAX_NAME} printable characters, got {original_name!r}"
            )
        if "/" in name or "\\" in name or name in {".", ".."}:
            # Never used as a path here; refused all the same, so no later reader is tempted to.
            raise DocumentRejected(f"file name: must be a file name, not a path, got {original_name!r}")
        media_type = sniff_media_type(head)
        if media_type is None:
            raise DocumentRejected(
                "file: must be a PDF, PNG or JPEG (recognised by its content, not its name)"
            )
        return media_type


def _move_into_place(path: Path, final: Path) -> None:
    """The file at `final`, unless it is there already (same content: same name); synced before it shows."""
    if final.exists():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
