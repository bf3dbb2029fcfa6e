"""The document store: supporting documents kept content-addressed (sha256), metadata in PostgreSQL.

Only PDF, PNG and JPEG are accepted, recognised by their first bytes, never by their name. The name the
uploader gave is kept as metadata for people to read; the path on disk is derived from the content only.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
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


class DocumentStore:
    def __init__(self, pool: asyncpg.Pool, directory: Path, max_bytes: int) -> None:
        self._pool = pool
        self._directory = directory
        self._max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool) -> DocumentStore:
        return cls(pool, settings.documents_dir, settings.max_upload_bytes)

    async def store(self, content: bytes, original_name: str) -> StoredDocument:
        """Keep the file and its metadata; the same content stored again returns the first record."""
        media_type = self._check(content, original_name)
        digest = hashlib.sha256(content).hexdigest()
        path = self.path_of(digest)
        if not path.exists():
            await asyncio.to_thread(write_atomically, path, content)
        # The file is in place before its row exists, so a row never points at a missing file.
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO documents (sha256, media_type, size_bytes, original_name) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
                digest,
                media_type,
                len(content),
                original_name.strip(),
            )
        document = await self.get(digest)
        assert document is not None  # just written, and rows are never deleted
        log.info("document.stored", sha256=digest, media_type=media_type, size_bytes=len(content))
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
        document = await self.get(sha256)
        if document is None:
            raise KeyError(f"no document with sha256 {sha256}")
        return await asyncio.to_thread(self.path_of(sha256).read_bytes)

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"sha256: must be 64 lowercase hexadecimal characters, got {sha256!r}")
        # Two levels of fan-out keep directories small.
        return self._directory / sha256[:2] / sha256[2:4] / sha256

    def _check(self, content: bytes, original_name: str) -> MediaType:
        if not content:
            raise DocumentRejected("file: is empty")
        if len(content) > self._max_bytes:
            raise DocumentRejected(
                f"file: is {len(content)} bytes, more than the limit of {self._max_bytes} bytes"
            )
        name = original_name.strip()
        if not name or len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
            raise DocumentRejected(
                f"file name: must be 1 to {_MAX_NAME} printable characters, got {original_name!r}"
            )
        if "/" in name or "\\" in name or name in {".", ".."}:
            # Never used as a path here; refused all the same, so no later reader is tempted to.
            raise DocumentRejected(f"file name: must be a file name, not a path, got {original_name!r}")
        media_type = sniff_media_type(content)
        if media_type is None:
            raise DocumentRejected(
                "file: must be a PDF, PNG or JPEG (recognised by its content, not its name)"
            )
        return media_type
