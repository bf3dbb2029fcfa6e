"""Uploads as an attacker would send them: limits on the body, the files and each file, enforced before the
body is read (or as it streams), after authentication, with nothing half written left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.stack import ApiStack, pdf, request_body

pytestmark = pytest.mark.asyncio(loop_scope="session")

MiB = 1024 * 1024
BOUNDARY = "nopic-test-boundary"


def stored_files(stack: ApiStack) -> set[Path]:
    """Every file under the documents folder, the incoming one included."""
    return {p for p in stack.settings.documents_dir.rglob("*") if p.is_file()}


async def raw_post(stack: ApiStack, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """Send headers and only `body` (however much Content-Length announces), then read the answer."""
    url = urlsplit(stack.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


async def test_a_200_mib_anonymous_upload_is_refused_before_it_is_read(stack: ApiStack) -> None:
    before = stored_files(stack)
    multipart = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    start = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-'
    for path in ("/documents", "/requests/R1/documents", "/ui/requests/new"):
        status, answer = await raw_post(
            stack, path, {**multipart, "Content-Length": str(200 * MiB)}, start.encode()
        )
        assert status == 413, answer
        assert b"larger than the limit of 67108864 bytes" in answer
    # Under the limit but anonymous: refused for want of a token, the body unread.
    small = {**multipart, "Content-Length": str(MiB)}
    status, answer = await raw_post(stack, "/documents", small, start.encode())
    assert status == 401, answer
    # A sign-in form never takes multipart, which is what would spool to disk.
    status, answer = await raw_post(stack, "/ui/login", small, start.encode())
    assert status == 415, answer
    assert stored_files(stack) == before


async def test_too_many_files_a_file_too_large_or_a_body_that_grows_too_large_keep_nothing(
    stack: ApiStack,
) -> None:
    request_id = None
    async with stack.client(stack.exporter) as http:
        request_id = (await http.post("/requests", json=request_body())).json()["id"]
        before = stored_files(stack)
        eleven = [("files", (f"{i}.pdf", pdf(f"many-{i}"), "application/pdf")) for i in range(11)]
        many = await http.post(
            f"/requests/{request_id}/documents", files=eleven, data={"kind": ["other"] * 11}
        )
        assert many.status_code == 413, many.text
        assert many.json()["error"]["message"] == "files: holds more than the limit of 10 files"

        big = pdf("big") + b"0" * (20 * MiB)
        large = await http.post("/documents", files={"file": ("big.pdf", big, "application/pdf")})
        assert large.status_code == 413, large.text
        assert large.json()["error"]["fields"][0] == {
            "field": "file",
            "rule": "max_bytes",
            "message": "is more than the limit of 20971520 bytes",
        }

        async def growing() -> AsyncIterator[bytes]:
            """No Content-Length: a chunked body of four files, each under its limit, past the body's."""
            for n in range(4):
                disposition = f'Content-Disposition: form-data; name="files"; filename="{n}.pdf"'
                yield f"--{BOUNDARY}\r\n{disposition}\r\n\r\n%PDF-1.4\n".encode()
                for _ in range(18):
                    yield b"0" * MiB
                yield b"\r\n"

        streamed = await http.post(
            f"/requests/{request_id}/documents",
            content=growing(),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["message"] == "body: is more than the limit of 67108864 bytes"
    assert stored_files(stack) == before, "nothing half written is kept"


async def test_a_dashboard_upload_without_its_form_token_writes_no_file(stack: ApiStack) -> None:
    async with stack.client(stack.exporter) as http:
        request_id = (await http.post("/requests", json=request_body())).json()["id"]
    before = stored_files(stack)
    page = await stack.dashboard(stack.exporter)
    try:
        forged = await page.post(
            f"/ui/requests/{request_id}/documents",
            files={"files.0": ("x.pdf", pdf("forged"), "application/pdf")},
            data={"kinds.0": "other"},
        )
        assert forged.status_code == 403
        # The page's own form, its token first as the page writes it, is taken.
        token = (await page.get(f"/ui/requests/{request_id}")).text.split('name="csrf_token" value="')[1]
        token = token.split('"')[0]
        taken = await page.post(
            f"/ui/requests/{request_id}/documents",
            files={"files.0": ("invoice.pdf", pdf("dashboard-invoice"), "application/pdf")},
            data={"csrf_token": token, "kinds.0": "commercial_invoice"},
        )
        assert taken.status_code == 303, taken.text
    finally:
        await page.aclose()
    assert len(stored_files(stack) - before) == 1
