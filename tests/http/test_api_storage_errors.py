"""Errors that say what happened: a document whose file is gone, a disk that is full."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from activities.documents import DocumentStore
from tests.support.stack import ApiStack, complete_request, pdf

pytestmark = pytest.mark.asyncio(loop_scope="session")


@contextmanager
def full_disk(folder: Path, size: str = "256k") -> Iterator[None]:
    """A tiny file system of its own mounted over `folder` (as root), so writing there runs out of room."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


async def test_a_document_whose_file_is_gone_is_410_naming_it(stack: ApiStack) -> None:
    submitted = await complete_request(stack, "gone")
    async with stack.client(stack.reviewer) as http:
        state = (await http.get(f"/requests/{submitted['id']}")).json()["state"]
        [first, *_] = state["form"]["documents"]
        store = DocumentStore.from_settings(stack.settings, stack.pool)
        await asyncio.to_thread(store.path_of(first["sha256"]).unlink)
        answer = await http.get(f"/requests/{submitted['id']}/documents/{first['sha256']}")
    assert answer.status_code == 410
    error = answer.json()["error"]
    assert error["code"] == "document_file_missing"
    assert "commercial_invoice.pdf" in error["message"] and first["sha256"] in error["message"]
    assert "restores it from the backup" in error["message"]


async def test_a_full_disk_is_507_and_keeps_nothing_half_written(stack: ApiStack) -> None:
    content = pdf("too big for the disk") + b"0" * (1024 * 1024)
    sha256 = hashlib.sha256(content).hexdigest()
    documents = stack.settings.documents_dir
    with full_disk(documents):
        async with stack.client(stack.exporter) as http:
            answer = await http.post("/documents", files={"file": ("big.pdf", content, "application/pdf")})
        page = await stack.dashboard(stack.exporter)
        try:
            form = await page.get("/ui/requests/new")
            token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
            shown = await page.post(
                "/ui/requests/new",
                data={"csrf_token": token, "kinds.0": "commercial_invoice"},
                files={"files.0": ("big.pdf", content, "application/pdf")},
            )
        finally:
            await page.aclose()
        left = [p for p in documents.rglob("*") if p.is_file()]
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"]["code"] == "insufficient_storage"
    assert "disk is full: nothing of this was kept" in answer.json()["error"]["message"]
    assert shown.status_code == 507 and "disk is full" in shown.text, "the dashboard says it as a page"
    assert left == [], "nothing half written is kept"
    assert await stack.pool.fetchval("SELECT count(*) FROM documents WHERE sha256 = $1", sha256) == 0
