"""The document store on real files and embedded PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from activities.documents import DocumentRejected, DocumentStore

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.fixture
def store(db_pool: asyncpg.Pool, tmp_path: Path) -> DocumentStore:
    return DocumentStore(db_pool, tmp_path / "documents", max_bytes=1024)


async def test_stores_by_content_and_keeps_the_name_as_metadata_only(store: DocumentStore) -> None:
    document = await store.store(PDF + b"invoice-1", "..invoice (final).pdf")
    assert document.media_type == "application/pdf"
    assert document.original_name == "..invoice (final).pdf"
    path = store.path_of(document.sha256)
    assert path.name == document.sha256
    assert path.read_bytes() == PDF + b"invoice-1"
    assert await store.read(document.sha256) == PDF + b"invoice-1"


async def test_storing_the_same_content_twice_is_idempotent(
    store: DocumentStore, db_pool: asyncpg.Pool
) -> None:
    first = await store.store(PNG + b"label", "label.png")
    again = await store.store(PNG + b"label", "label-copy.png")
    assert again == first
    count = await db_pool.fetchval("SELECT count(*) FROM documents WHERE sha256 = $1", first.sha256)
    assert count == 1


async def test_recognises_jpeg_by_its_bytes_whatever_the_name(store: DocumentStore) -> None:
    document = await store.store(JPEG + b"photo", "scan.pdf")
    assert document.media_type == "image/jpeg"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.pdf", "file: is empty"),
        (b"PK\x03\x04 a zip", "invoice.pdf", "file: must be a PDF, PNG or JPEG"),
        (PDF + b"x" * 2000, "big.pdf", "more than the limit of 1024 bytes"),
        (PDF, "", "file name: must be 1 to 255 printable characters"),
        (PDF, "a\nb.pdf", "file name: must be 1 to 255 printable characters"),
        (PDF, "../../etc/passwd", "file name: must be a file name, not a path"),
    ],
)
async def test_refuses_with_the_rule_and_keeps_nothing(
    store: DocumentStore, tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    with pytest.raises(DocumentRejected, match=message):
        await store.store(content, name)
    assert not (tmp_path / "documents").exists()


async def test_unknown_or_malformed_ids_find_nothing(store: DocumentStore) -> None:
    assert await store.get("0" * 64) is None
    assert await store.get("../secret") is None
    with pytest.raises(ValueError, match="sha256: must be 64 lowercase hexadecimal"):
        store.path_of("../secret")
